#include "outputs/text.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace steen::outputs::text {

std::string Rfc3339Utc(int64_t wall_time_ns, int fraction_digits) {
  if (fraction_digits < 0) fraction_digits = 0;
  if (fraction_digits > 9) fraction_digits = 9;
  int64_t seconds = wall_time_ns / 1000000000;
  int64_t nanos = wall_time_ns % 1000000000;
  if (nanos < 0) {  // floor division for times before 1970
    nanos += 1000000000;
    --seconds;
  }
  time_t t = static_cast<time_t>(seconds);
  struct tm tm_utc {};
  if (gmtime_r(&t, &tm_utc) == nullptr) return "1970-01-01T00:00:00Z";
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", tm_utc.tm_year + 1900,
                        tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour, tm_utc.tm_min,
                        tm_utc.tm_sec);
  std::string out(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  if (fraction_digits > 0) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), "%09lld", static_cast<long long>(nanos));
    out += '.';
    out.append(frac, static_cast<std::size_t>(fraction_digits));
  }
  out += 'Z';
  return out;
}

int64_t AlertTimeNs(const Alert& alert) {
  if (alert.wall_time_ns != 0) return alert.wall_time_ns;
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid (RFC 3629).
std::size_t ValidSequenceLength(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 == 0xE0) {
    len = 3, lo = 0xA0;
  } else if (b0 >= 0xE1 && b0 <= 0xEC) {
    len = 3;
  } else if (b0 == 0xED) {
    len = 3, hi = 0x9F;  // no UTF-16 surrogates
  } else if (b0 >= 0xEE && b0 <= 0xEF) {
    len = 3;
  } else if (b0 == 0xF0) {
    len = 4, lo = 0x90;
  } else if (b0 >= 0xF1 && b0 <= 0xF3) {
    len = 4;
  } else if (b0 == 0xF4) {
    len = 4, hi = 0x8F;  // at most U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

}  // namespace

std::string RepairUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    std::size_t len = ValidSequenceLength(in, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(in.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::string PrintUsAscii(std::string_view in, std::size_t max_len) {
  std::string out;
  for (char c : in) {
    if (out.size() >= max_len) break;
    auto b = static_cast<unsigned char>(c);
    if (b >= 33 && b <= 126) out += c;
  }
  if (out.empty()) out = "-";
  return out;
}

std::string_view Utf8Prefix(std::string_view utf8, std::size_t max_bytes) {
  if (utf8.size() <= max_bytes) return utf8;
  std::size_t end = max_bytes;
  // Step back over continuation bytes so the cut lands on a character boundary.
  while (end > 0 && (static_cast<unsigned char>(utf8[end]) & 0xC0) == 0x80) --end;
  return utf8.substr(0, end);
}

std::string LocalHostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return buf;
}

bool IsHealthAlert(const Alert& alert) {
  return alert.actor.pid == 0 && alert.files.empty() && alert.file_count == 0;
}

}  // namespace steen::outputs::text
