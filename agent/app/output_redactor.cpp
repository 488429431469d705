// The redacting stdout/stderr buffers (output_redactor.h).
#include "agent/app/output_redactor.h"

#include <iostream>
#include <streambuf>

#include "agent/util/redact.h"

namespace opescare::app {

// Collects a line, redacts it, and passes it on. A secret never spans lines, so whole lines suffice.
class OutputRedactor::Buffer final : public std::streambuf {
 public:
  Buffer(std::ostream& stream, std::shared_ptr<std::vector<std::string>> secrets)
      : stream_(stream), target_(stream.rdbuf()), secrets_(std::move(secrets)) {
    stream_.rdbuf(this);
  }
  ~Buffer() override {
    Flush();
    stream_.rdbuf(target_);
  }

 protected:
  int_type overflow(int_type ch) override {
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    line_.push_back(traits_type::to_char_type(ch));
    if (ch == '\n' || line_.size() >= kMaxLine) Flush();
    return ch;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) overflow(traits_type::to_int_type(s[i]));
    return n;
  }
  int sync() override {
    Flush();
    return target_->pubsync();
  }

 private:
  static constexpr size_t kMaxLine = 64 * 1024;  // a longer line is passed on in pieces

  void Flush() {
    if (line_.empty()) return;
    std::string shown = RedactSecrets(std::move(line_), *secrets_);
    line_.clear();
    target_->sputn(shown.data(), static_cast<std::streamsize>(shown.size()));
  }

  std::ostream& stream_;
  std::streambuf* target_;
  std::shared_ptr<std::vector<std::string>> secrets_;
  std::string line_;
};

OutputRedactor::OutputRedactor()
    : secrets_(std::make_shared<std::vector<std::string>>()),
      out_(std::make_unique<Buffer>(std::cout, secrets_)),
      err_(std::make_unique<Buffer>(std::cerr, secrets_)) {}

OutputRedactor::~OutputRedactor() {
  err_.reset();
  out_.reset();
}

void OutputRedactor::Add(const std::vector<std::string>& secrets) {
  for (const std::string& s : secrets)
    if (!s.empty()) secrets_->push_back(s);
}

}  // namespace opescare::app
