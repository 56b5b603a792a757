// Small text helpers shared by the output mappings: time stamps, UTF-8 repair, ASCII filtering.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "steen/alert.h"

namespace steen::outputs::text {

// RFC 3339 UTC time with `fraction_digits` (0..9) digits after the second and a trailing 'Z'.
std::string Rfc3339Utc(int64_t wall_time_ns, int fraction_digits);

// The alert's wall time, or now when the producer left it unset (0).
int64_t AlertTimeNs(const Alert& alert);

// Valid UTF-8 copy of `in`: every byte that does not start a valid, shortest-form scalar value is
// replaced by U+FFFD. Paths on Linux are bytes; receivers of JSON and syslog want UTF-8.
std::string RepairUtf8(std::string_view in);

// Keeps only PRINTUSASCII (33..126) bytes, at most max_len of them; "-" (NILVALUE) when empty.
std::string PrintUsAscii(std::string_view in, std::size_t max_len);

// Longest prefix of a valid UTF-8 string that is at most max_bytes long and does not split a
// character.
std::string_view Utf8Prefix(std::string_view utf8, std::size_t max_bytes);

// This machine's host name ("" when unknown).
std::string LocalHostName();

// ATT&CK technique every steen detection maps to.
inline constexpr std::string_view kTechniqueId = "T1486";
inline constexpr std::string_view kTechniqueName = "Data Encrypted for Impact";
inline constexpr std::string_view kTacticId = "TA0040";
inline constexpr std::string_view kTacticName = "Impact";

// Health alerts (queue overflow, failed reads) have no actor and no damaged files: they carry no
// ATT&CK tags and are not malware events.
bool IsHealthAlert(const Alert& alert);

}  // namespace steen::outputs::text
