#include "sys/fanotify_parse.h"

#include <fcntl.h>
#include <linux/fanotify.h>

#include <charconv>
#include <cstring>

#include "steen/limits.h"

namespace steen::sys {
namespace {

template <typename T>
bool Load(const uint8_t* data, std::size_t len, std::size_t off, T* out) {
  if (off > len || len - off < sizeof(T)) return false;
  std::memcpy(out, data + off, sizeof(T));
  return true;
}

// Decodes fsid + file_handle (+ name for *_NAME records) from one info record body.
// `rec`/`rec_len` cover the whole record including its 4-byte header.
bool DecodeFidRecord(const uint8_t* rec, std::size_t rec_len, bool with_name, FileId* id,
                     std::string* name) {
  std::size_t off = sizeof(fanotify_event_info_header);
  int32_t fsid_words[2];
  if (!Load(rec, rec_len, off, &fsid_words)) return false;
  off += sizeof(fsid_words);
  uint32_t handle_bytes = 0;
  int32_t handle_type = 0;
  if (!Load(rec, rec_len, off, &handle_bytes) || !Load(rec, rec_len, off + 4, &handle_type)) {
    return false;
  }
  off += 8;
  if (handle_bytes > limits::kMaxFileHandleBytes || handle_bytes > rec_len - off) return false;
  id->fsid = static_cast<uint32_t>(fsid_words[0]) |
             (static_cast<uint64_t>(static_cast<uint32_t>(fsid_words[1])) << 32);
  id->handle_type = handle_type;
  id->handle.assign(reinterpret_cast<const char*>(rec + off), handle_bytes);
  off += handle_bytes;
  if (with_name) {
    // Null-terminated name, followed by padding up to the record length.
    const char* start = reinterpret_cast<const char*>(rec + off);
    std::size_t room = rec_len - off;
    const void* nul = std::memchr(start, '\0', room);
    if (nul == nullptr) return false;
    name->assign(start, static_cast<const char*>(nul) - start);
  }
  return true;
}

}  // namespace

ParsedBuffer ParseFanotifyBuffer(const uint8_t* data, std::size_t len) {
  ParsedBuffer out;
  std::size_t pos = 0;
  while (len - pos >= sizeof(fanotify_event_metadata)) {
    fanotify_event_metadata meta;
    std::memcpy(&meta, data + pos, sizeof(meta));
    if (meta.event_len < sizeof(meta) || meta.event_len > len - pos ||
        meta.metadata_len < sizeof(meta) || meta.metadata_len > meta.event_len) {
      break;
    }
    RawFanotifyEvent ev;
    ev.mask = meta.mask;
    ev.fd = meta.fd;
    ev.pid = meta.pid;
    if (meta.vers != FANOTIFY_METADATA_VERSION) {
      out.version_mismatch = true;
      ev.malformed = true;
      out.events.push_back(std::move(ev));
      pos += meta.event_len;
      continue;
    }
    const uint8_t* ev_data = data + pos;
    std::size_t off = meta.metadata_len;
    // Info records: each starts with a header whose len covers the record; bounded by event_len.
    while (meta.event_len - off >= sizeof(fanotify_event_info_header)) {
      fanotify_event_info_header hdr;
      std::memcpy(&hdr, ev_data + off, sizeof(hdr));
      if (hdr.len < sizeof(hdr) || hdr.len > meta.event_len - off) {
        ev.malformed = true;
        break;
      }
      const uint8_t* rec = ev_data + off;
      FileId id;
      std::string name;
      switch (hdr.info_type) {
        case FAN_EVENT_INFO_TYPE_FID:
          if (DecodeFidRecord(rec, hdr.len, false, &id, nullptr))
            ev.fid = id;
          else
            ev.malformed = true;
          break;
        case FAN_EVENT_INFO_TYPE_DFID:
          if (DecodeFidRecord(rec, hdr.len, false, &id, nullptr))
            ev.dfid = id;
          else
            ev.malformed = true;
          break;
        case FAN_EVENT_INFO_TYPE_DFID_NAME:
        case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
        case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
          if (DecodeFidRecord(rec, hdr.len, true, &id, &name)) {
            DirEntryId entry{std::move(id), std::move(name)};
            if (hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME)
              ev.entry = std::move(entry);
            else if (hdr.info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME)
              ev.old_entry = std::move(entry);
            else
              ev.new_entry = std::move(entry);
          } else {
            ev.malformed = true;
          }
          break;
        default:
          break;  // pidfd, error and future records: not used
      }
      off += hdr.len;
    }
    out.events.push_back(std::move(ev));
    pos += meta.event_len;
  }
  out.trailing_bytes = len - pos;
  return out;
}

OpenRequest ParseSyscallOpenRequest(std::string_view line) {
  // Fields: number, then six arguments in hex, then sp and pc. "running" or "-1 ..." when the
  // task is not in a syscall.
  uint64_t fields[7] = {};
  int count = 0;
  std::size_t pos = 0;
  while (count < 7 && pos < line.size()) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    std::size_t end = line.find_first_of(" \n", pos);
    if (end == std::string_view::npos) end = line.size();
    std::string_view tok = line.substr(pos, end - pos);
    if (tok.empty()) break;
    int base = 10;
    if (tok.size() > 2 && tok[0] == '0' && tok[1] == 'x') {
      tok.remove_prefix(2);
      base = 16;
    }
    auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), fields[count], base);
    if (ec != std::errc() || p != tok.data() + tok.size()) break;
    ++count;
    pos = end;
  }
  OpenRequest req;
  if (count < 1) return req;
  auto from_flags = [&](uint64_t flags) {
    req.flags = static_cast<int>(flags);
    int acc = req.flags & O_ACCMODE;
    req.intent = (acc == O_WRONLY || acc == O_RDWR) ? OpenIntent::kWrite : OpenIntent::kRead;
    req.truncate = (req.flags & O_TRUNC) != 0 && req.intent == OpenIntent::kWrite;
  };
  switch (fields[0]) {
    case 2:  // open(path, flags, mode)
      if (count >= 3) from_flags(fields[2]);
      break;
    case 257:  // openat(dirfd, path, flags, mode)
      if (count >= 4) from_flags(fields[3]);
      break;
    case 85:  // creat(path, mode) == O_CREAT|O_WRONLY|O_TRUNC
      req.intent = OpenIntent::kWrite;
      req.truncate = true;
      req.flags = O_CREAT | O_WRONLY | O_TRUNC;
      break;
    case 59:   // execve
    case 322:  // execveat
      req.intent = OpenIntent::kExec;
      break;
    default:  // openat2 (flags behind a pointer), io_uring, open_by_handle_at, ...
      break;
  }
  return req;
}

std::string EncodeFanotifyEventForTest(uint64_t mask, int fd, int pid,
                                       const std::vector<std::pair<uint8_t, DirEntryId>>& records) {
  std::string body;
  for (const auto& [type, entry] : records) {
    std::string rec(sizeof(fanotify_event_info_header), '\0');
    int32_t fsid[2] = {static_cast<int32_t>(entry.dir.fsid & 0xffffffffu),
                       static_cast<int32_t>(entry.dir.fsid >> 32)};
    rec.append(reinterpret_cast<const char*>(fsid), sizeof(fsid));
    uint32_t hb = static_cast<uint32_t>(entry.dir.handle.size());
    rec.append(reinterpret_cast<const char*>(&hb), 4);
    rec.append(reinterpret_cast<const char*>(&entry.dir.handle_type), 4);
    rec += entry.dir.handle;
    if (type != FAN_EVENT_INFO_TYPE_FID && type != FAN_EVENT_INFO_TYPE_DFID) {
      rec += entry.name;
      rec.push_back('\0');
    }
    while (rec.size() % 4 != 0) rec.push_back('\0');
    fanotify_event_info_header hdr{type, 0, static_cast<uint16_t>(rec.size())};
    std::memcpy(rec.data(), &hdr, sizeof(hdr));
    body += rec;
  }
  fanotify_event_metadata meta{};
  meta.event_len = static_cast<uint32_t>(sizeof(meta) + body.size());
  meta.vers = FANOTIFY_METADATA_VERSION;
  meta.metadata_len = sizeof(meta);
  meta.mask = mask;
  meta.fd = fd;
  meta.pid = pid;
  std::string out(reinterpret_cast<const char*>(&meta), sizeof(meta));
  return out + body;
}

}  // namespace steen::sys
