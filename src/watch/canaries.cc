#include "watch/canaries.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <deque>

#include "steen/limits.h"

namespace steen::watch {
namespace {

// ---- A ZIP with stored entries (what OOXML documents are) ----
uint32_t Crc32(std::string_view data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : data) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

void Put16(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v & 0xFF));
  out->push_back(static_cast<char>((v >> 8) & 0xFF));
}
void Put32(std::string* out, uint32_t v) {
  Put16(out, v & 0xFFFF);
  Put16(out, v >> 16);
}

std::string StoredZip(const std::vector<std::pair<std::string, std::string>>& entries) {
  constexpr uint32_t kDosTime = 0x6000;  // 12:00:00
  constexpr uint32_t kDosDate = 0x5821;  // 2024-01-01
  std::string out, central;
  for (const auto& [name, data] : entries) {
    const uint32_t offset = static_cast<uint32_t>(out.size());
    const uint32_t crc = Crc32(data);
    Put32(&out, 0x04034b50);
    Put16(&out, 20);
    Put16(&out, 0);
    Put16(&out, 0);  // stored
    Put16(&out, kDosTime);
    Put16(&out, kDosDate);
    Put32(&out, crc);
    Put32(&out, static_cast<uint32_t>(data.size()));
    Put32(&out, static_cast<uint32_t>(data.size()));
    Put16(&out, static_cast<uint32_t>(name.size()));
    Put16(&out, 0);
    out += name;
    out += data;
    Put32(&central, 0x02014b50);
    Put16(&central, 20);
    Put16(&central, 20);
    Put16(&central, 0);
    Put16(&central, 0);
    Put16(&central, kDosTime);
    Put16(&central, kDosDate);
    Put32(&central, crc);
    Put32(&central, static_cast<uint32_t>(data.size()));
    Put32(&central, static_cast<uint32_t>(data.size()));
    Put16(&central, static_cast<uint32_t>(name.size()));
    Put16(&central, 0);
    Put16(&central, 0);
    Put16(&central, 0);
    Put16(&central, 0);
    Put32(&central, 0);
    Put32(&central, offset);
    central += name;
  }
  const uint32_t central_offset = static_cast<uint32_t>(out.size());
  out += central;
  Put32(&out, 0x06054b50);
  Put16(&out, 0);
  Put16(&out, 0);
  Put16(&out, static_cast<uint32_t>(entries.size()));
  Put16(&out, static_cast<uint32_t>(entries.size()));
  Put32(&out, static_cast<uint32_t>(central.size()));
  Put32(&out, central_offset);
  Put16(&out, 0);
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        // Control bytes and anything outside printable ASCII become '_' (names may be any bytes).
        out += (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) ? '_'
                                                                                               : c;
    }
  }
  return out;
}

// Deterministic, plausible rows: (item, quantity, amount).
struct Row {
  std::string item;
  int quantity;
  int amount;
};
std::vector<Row> Rows(const std::string& seed_text, int count) {
  static const char* kItems[] = {"Licences",    "Travel",   "Consulting", "Hardware",  "Training",
                                 "Office rent", "Catering", "Insurance",  "Marketing", "Support"};
  uint64_t state = std::hash<std::string>()(seed_text) | 1;
  std::vector<Row> rows;
  for (int i = 0; i < count; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    rows.push_back({kItems[state % 10], static_cast<int>(1 + state % 40),
                    static_cast<int>(100 + (state >> 8) % 90000)});
  }
  return rows;
}

constexpr const char* kRelsNs = "http://schemas.openxmlformats.org/package/2006/relationships";
constexpr const char* kOfficeDocRel =
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument";
constexpr const char* kXmlDecl = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

std::string Docx(const std::string& title, const std::string& seed_text) {
  std::string types =
      std::string(kXmlDecl) +
      "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
      "<Default Extension=\"rels\" "
      "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
      "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
      "<Override PartName=\"/word/document.xml\" ContentType=\"application/"
      "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>";
  std::string rels = std::string(kXmlDecl) + "<Relationships xmlns=\"" + kRelsNs +
                     "\"><Relationship Id=\"rId1\" Type=\"" + kOfficeDocRel +
                     "\" Target=\"word/document.xml\"/></Relationships>";
  std::string body;
  auto para = [&](const std::string& text) {
    body += "<w:p><w:r><w:t xml:space=\"preserve\">" + XmlEscape(text) + "</w:t></w:r></w:p>";
  };
  para(title);
  for (const Row& row : Rows(seed_text, 24)) {
    para(fmt::format("{}: {} items agreed, {} EUR, follow-up by the next meeting.", row.item,
                     row.quantity, row.amount));
  }
  std::string document =
      std::string(kXmlDecl) +
      "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">"
      "<w:body>" +
      body + "</w:body></w:document>";
  return StoredZip(
      {{"[Content_Types].xml", types}, {"_rels/.rels", rels}, {"word/document.xml", document}});
}

std::string Xlsx(const std::string& title, const std::string& seed_text) {
  std::string types =
      std::string(kXmlDecl) +
      "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
      "<Default Extension=\"rels\" "
      "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
      "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
      "<Override PartName=\"/xl/workbook.xml\" ContentType=\"application/"
      "vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>"
      "<Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/"
      "vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/></Types>";
  std::string rels = std::string(kXmlDecl) + "<Relationships xmlns=\"" + kRelsNs +
                     "\"><Relationship Id=\"rId1\" Type=\"" + kOfficeDocRel +
                     "\" Target=\"xl/workbook.xml\"/></Relationships>";
  std::string workbook_rels =
      std::string(kXmlDecl) + "<Relationships xmlns=\"" + kRelsNs +
      "\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/"
      "relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/></Relationships>";
  std::string workbook =
      std::string(kXmlDecl) +
      "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
      "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">"
      "<sheets><sheet name=\"Budget\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>";
  auto text_cell = [](const std::string& ref, const std::string& text) {
    return "<c r=\"" + ref + "\" t=\"inlineStr\"><is><t>" + XmlEscape(text) + "</t></is></c>";
  };
  std::string rows = "<row r=\"1\">" + text_cell("A1", title) + "</row>";
  int r = 2;
  for (const Row& row : Rows(seed_text, 40)) {
    std::string n = std::to_string(r);
    rows += "<row r=\"" + n + "\">" + text_cell("A" + n, row.item) + "<c r=\"B" + n + "\"><v>" +
            std::to_string(row.quantity) + "</v></c><c r=\"C" + n + "\"><v>" +
            std::to_string(row.amount) + "</v></c></row>";
    ++r;
  }
  std::string sheet = std::string(kXmlDecl) +
                      "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/"
                      "main\"><sheetData>" +
                      rows + "</sheetData></worksheet>";
  return StoredZip({{"[Content_Types].xml", types},
                    {"_rels/.rels", rels},
                    {"xl/workbook.xml", workbook},
                    {"xl/_rels/workbook.xml.rels", workbook_rels},
                    {"xl/worksheets/sheet1.xml", sheet}});
}

std::string PdfEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '(' || c == ')' || c == '\\') out += '\\';
    out +=
        (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) ? '_' : c;
  }
  return out;
}

std::string Pdf(const std::string& title, const std::string& seed_text) {
  std::string stream = "BT /F1 14 Tf 72 740 Td (" + PdfEscape(title) + ") Tj ET\n";
  int y = 710;
  for (const Row& row : Rows(seed_text, 30)) {
    stream += fmt::format("BT /F1 10 Tf 72 {} Td ({}: {} x, {} EUR) Tj ET\n", y,
                          PdfEscape(row.item), row.quantity, row.amount);
    y -= 20;
  }
  std::string pdf = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
  std::vector<std::size_t> offsets;
  auto add = [&](const std::string& body) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(offsets.size()) + " 0 obj\n" + body + "\nendobj\n";
  };
  add("<< /Type /Catalog /Pages 2 0 R >>");
  add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
  add("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
      "/Resources << /Font << /F1 5 0 R >> >> >>");
  add("<< /Length " + std::to_string(stream.size()) + " >>\nstream\n" + stream + "endstream");
  add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  const std::size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(offsets.size() + 1) + "\n0000000000 65535 f \n";
  for (std::size_t off : offsets) pdf += fmt::format("{:010d} 00000 n \n", off);
  pdf += "trailer\n<< /Size " + std::to_string(offsets.size() + 1) + " /Root 1 0 R >>\n";
  pdf += "startxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

std::string Extension(const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos) return "";
  std::string ext = name.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

std::string BaseName(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string MakeCanaryContent(const std::string& file_name, const std::string& seed_text) {
  const std::string ext = Extension(file_name);
  auto dot = file_name.rfind('.');
  const std::string title = dot == std::string::npos ? file_name : file_name.substr(0, dot);
  if (ext == "xlsx") return Xlsx(title, seed_text + file_name);
  if (ext == "docx") return Docx(title, seed_text + file_name);
  if (ext == "pdf") return Pdf(title, seed_text + file_name);
  std::string text = title + "\n\n";
  for (const Row& row : Rows(seed_text + file_name, 30)) {
    text += fmt::format("{}: {} items, {} EUR\n", row.item, row.quantity, row.amount);
  }
  return text;
}

std::string ExpandCanaryName(const std::string& name_template, const std::string& folder) {
  std::string out = name_template;
  const std::string key = "{folder}";
  const std::string name = BaseName(folder);
  for (auto at = out.find(key); at != std::string::npos; at = out.find(key, at + name.size())) {
    out.replace(at, key.size(), name);
  }
  return out;
}

Canaries::Canaries(CanaryConfig config, std::vector<std::string> roots)
    : config_(std::move(config)), roots_(std::move(roots)) {}

Status Canaries::Write(Placed* canary, bool exclusive) {
  std::string bytes = MakeCanaryContent(BaseName(canary->path), canary->folder);
  if (bytes.size() > limits::kMaxCanaryBytes) bytes.resize(limits::kMaxCanaryBytes);
  int fd =
      ::open(canary->path.c_str(),
             O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), 0644);
  if (fd < 0) return Status::FromErrno("canary " + canary->path, errno);
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(canary->path.c_str());
      return Status::FromErrno("canary " + canary->path, err);
    }
    done += static_cast<std::size_t>(n);
  }
  struct stat st {};
  ::fstat(fd, &st);
  ::close(fd);
  canary->device = st.st_dev;
  canary->inode = st.st_ino;
  canary->size = static_cast<uint64_t>(st.st_size);
  canary->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  inodes_.insert({canary->device, canary->inode});
  return Status::Ok();
}

Status Canaries::Place() {
  if (!config_.enabled || config_.names.empty()) return Status::Ok();
  Status first_error;
  int folders = 0;
  std::size_t name_index = 0;
  for (const std::string& root : roots_) {
    std::deque<std::string> queue{root};
    std::size_t walked = 0;
    while (!queue.empty() && folders < config_.max_directories &&
           walked < limits::kMaxRescanDirectories) {
      std::string folder = std::move(queue.front());
      queue.pop_front();
      ++walked;
      // One canary per folder: try the templates in turn, never replacing a real file.
      for (std::size_t tries = 0; tries < config_.names.size(); ++tries) {
        Placed canary;
        canary.folder = folder;
        canary.path = folder + "/" +
                      ExpandCanaryName(config_.names[name_index++ % config_.names.size()], folder);
        struct stat existing {};
        if (::lstat(canary.path.c_str(), &existing) == 0) continue;  // a real file: never replaced
        Status status = Write(&canary, /*exclusive=*/true);
        if (status.ok()) {
          ++stats_.placed;
          path_set_.insert(canary.path);
          paths_.push_back(canary.path);
          placed_.push_back(std::move(canary));
          ++folders;
          break;
        }
        ++stats_.errors;
        if (first_error.ok()) first_error = status;
        break;
      }
      DIR* dir = ::opendir(folder.c_str());
      if (dir == nullptr) continue;
      std::vector<std::string> children;
      while (dirent* entry = ::readdir(dir)) {
        std::string name = entry->d_name;
        if (name == "." || name == ".." || name[0] == '.') continue;
        if (entry->d_type == DT_DIR) children.push_back(folder + "/" + name);
      }
      ::closedir(dir);
      std::sort(children.begin(), children.end());
      for (auto& child : children) queue.push_back(std::move(child));
    }
  }
  if (placed_.empty() && !first_error.ok()) return first_error;
  return Status::Ok();
}

int Canaries::Restore() {
  int restored = 0;
  for (Placed& canary : placed_) {
    struct stat st {};
    if (::lstat(canary.path.c_str(), &st) == 0) continue;
    if (errno != ENOENT) continue;
    if (Write(&canary, /*exclusive=*/true).ok()) {
      ++restored;
      ++stats_.restored;
    }
  }
  return restored;
}

void Canaries::Remove() {
  for (const Placed& canary : placed_) {
    struct stat st {};
    if (::lstat(canary.path.c_str(), &st) != 0) continue;
    const int64_t mtime =
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    // Size and mtime to the nanosecond, not the inode: a canary put back by `steen rollback` is a
    // new inode with the planted content and mtime, and is still ours to remove.
    if (st.st_dev == canary.device && static_cast<uint64_t>(st.st_size) == canary.size &&
        mtime == canary.mtime_ns) {
      if (::unlink(canary.path.c_str()) == 0) ++stats_.removed;
    } else {
      ++stats_.kept;
    }
  }
}

void Canaries::Forget(const FileEvent& event) {
  if (event.op == FileOp::kDelete && event.inode != 0) inodes_.erase({event.device, event.inode});
}

bool Canaries::IsCanary(const FileEvent& event) const {
  if (path_set_.count(event.path) || (!event.new_path.empty() && path_set_.count(event.new_path))) {
    return true;
  }
  return event.inode != 0 && inodes_.count({event.device, event.inode}) > 0;
}

}  // namespace steen::watch
