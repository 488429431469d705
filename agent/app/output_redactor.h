// OutputRedactor: hides the configuration's secrets in everything a command prints to stdout and stderr,
// including texts that came from outside (a server's error message may quote the agent key).
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace opescare::app {

// Installs line-buffered redacting buffers on std::cout and std::cerr for its lifetime and restores the
// originals (flushed) when destroyed. Not thread-safe: the CLI's commands print from one thread.
class OutputRedactor {
 public:
  OutputRedactor();
  ~OutputRedactor();
  OutputRedactor(const OutputRedactor&) = delete;
  OutputRedactor& operator=(const OutputRedactor&) = delete;

  // Adds secrets to hide from now on (empty ones are ignored).
  void Add(const std::vector<std::string>& secrets);

  class Buffer;

 private:
  std::shared_ptr<std::vector<std::string>> secrets_;
  std::unique_ptr<Buffer> out_;
  std::unique_ptr<Buffer> err_;
};

}  // namespace opescare::app
