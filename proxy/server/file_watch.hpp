#pragma once
// watch_files (DESIGN.md, signals): inotify on the folders that hold the config and CA files, so
// an edit in place, a rename over the file, and the Kubernetes ConfigMap/Secret update (a new
// timestamped folder, then the `..data` symlink renamed over the old one) are all seen. Events
// are debounced; a reload is asked for only when what the files resolve to has changed (device,
// inode, size, mtime through every symlink), so the access log or a scratch file written in the
// same folder costs a stat, never a reload.

#include "proxy/transport/io.hpp"

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace trproxy::proxy {

class FileWatch {
 public:
  // `changed` runs on `control` when a watched file changed (at most once per debounce period).
  FileWatch(net::io_context& control, std::function<void()> changed);
  ~FileWatch();
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;

  // The files to watch from now on (the config and the CA of the running configuration), and
  // whether to watch at all (watch_files). Records their current state: a reload that follows
  // only when they change again.
  void watch(std::vector<std::filesystem::path> files, bool enabled);
  // Records the files' current state (called as a reload reads them, whatever started it).
  void mark();

 private:
  void read_events();
  void settle();
  [[nodiscard]] std::string fingerprint() const;

  net::posix::stream_descriptor events_;
  net::steady_timer debounce_;
  std::function<void()> changed_;
  std::vector<std::filesystem::path> files_;
  std::map<std::string, int> watched_folders_;
  std::string last_;
  bool enabled_ = false;
  std::array<char, 4096> buffer_{};
};

}  // namespace trproxy::proxy
