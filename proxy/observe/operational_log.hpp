#pragma once
// The operational log (stderr). Under systemd, stderr is a journald stream and each line starts
// with its syslog priority (<3> error, <4> warning, <6> info, <7> debug), which journald strips
// and stores, so `journalctl -p warning` finds warnings; elsewhere lines carry a UTC timestamp
// and the level name.

#include <string_view>

namespace trproxy::proxy {

// True when stderr is the journald stream systemd connected: JOURNAL_STREAM ("DEV:INODE") names
// the same file as fd 2 (systemd's documented test; a child whose stderr was redirected elsewhere
// inherits the variable but not the stream).
bool stderr_is_journal(std::string_view journal_stream_env);

// Installs the default logger on stderr.
void setup_operational_log();

}  // namespace trproxy::proxy
