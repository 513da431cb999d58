#include "proxy/server/file_watch.hpp"

#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace trproxy::proxy {
namespace {

// Long enough that a writer's several steps (kubelet: write the new folder, swap the symlink,
// remove the old folder) end in one reload; short enough to feel immediate.
constexpr auto debounce_period = std::chrono::milliseconds(300);

// What a change to a file or its symlinks looks like in its folder. IN_MODIFY is left out: a
// writer's close (IN_CLOSE_WRITE) follows it, and a log file kept open in the same folder would
// otherwise wake the watch on every line.
constexpr std::uint32_t folder_events =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

int open_inotify() {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("watch_files: inotify_init1: ") + std::strerror(errno));
  return fd;
}

}  // namespace

FileWatch::FileWatch(net::io_context& control, std::function<void()> changed)
    : events_(control, open_inotify()), debounce_(control), changed_(std::move(changed)) {
  read_events();
}

FileWatch::~FileWatch() {
  error_code ignored;
  events_.close(ignored);
}

void FileWatch::watch(std::vector<std::filesystem::path> files, bool enabled) {
  files_ = std::move(files);
  enabled_ = enabled;
  if (enabled_) {
    for (const auto& file : files_) {
      // The folder named in the config (where Kubernetes swaps its ..data symlink), and the
      // folder the file really lives in when that is elsewhere.
      std::vector<std::filesystem::path> folders{file.parent_path()};
      error_code ec;
      const auto real = std::filesystem::canonical(file, ec);
      if (!ec) folders.push_back(real.parent_path());
      for (const auto& folder : folders) {
        const auto key = folder.string();
        if (key.empty() || watched_folders_.count(key)) continue;
        const int wd = inotify_add_watch(events_.native_handle(), key.c_str(), folder_events);
        if (wd < 0) {
          spdlog::warn("watch_files: cannot watch {}: {}", key, std::strerror(errno));
          continue;
        }
        watched_folders_[key] = wd;
      }
    }
  }
  mark();
}

void FileWatch::mark() {
  last_ = fingerprint();
}

std::string FileWatch::fingerprint() const {
  std::string out;
  for (const auto& file : files_) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
      out += "missing;";
      continue;
    }
    out += std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
           std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ";";
  }
  return out;
}

void FileWatch::read_events() {
  events_.async_read_some(net::buffer(buffer_), [this](const error_code& ec, std::size_t) {
    if (ec == net::error::operation_aborted || ec == net::error::bad_descriptor) return;
    if (ec) {
      spdlog::warn("watch_files: reading inotify events failed: {}; file changes are no longer seen", ec.message());
      return;
    }
    // Which file an event names does not matter: the fingerprint decides.
    if (enabled_) {
      debounce_.expires_after(debounce_period);
      debounce_.async_wait([this](const error_code& wait_ec) {
        if (!wait_ec) settle();
      });
    }
    read_events();
  });
}

void FileWatch::settle() {
  if (!enabled_) return;
  const auto now = fingerprint();
  if (now == last_) return;
  last_ = now;
  spdlog::info("watch_files: the config or CA files changed; reloading");
  changed_();
}

}  // namespace trproxy::proxy
