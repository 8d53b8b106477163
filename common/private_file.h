// Files that hold secrets (private keys, the SQLite registry with its TSIG
// secrets) and the directories that hold them: the ownership and mode rules
// lufd enforces before it uses one, in one place.
//
// The rule is PostgreSQL's for ssl_key_file (and ssh's for private keys): a
// secret file owned by the user lufd runs as must not be accessible by group
// or others at all (0600 or stricter); one owned by root may be readable by
// its group (0640: the Debian ssl-cert convention) but not writable by it,
// and not accessible by others; any other owner is refused (that user could
// read or replace the file). A secret directory must be owned by us or root
// and not be writable by group or others (anyone who may write it can remove
// or plant files). lufd refuses to start on a violation rather than fixing
// the mode: a file that was readable by others may already have been read,
// and the operator must know (and, for a key, roll it).
//
// Errors are FAILED_PRECONDITION naming the path, the mode or owner found
// and the command that fixes it. Thread-safe (stateless).
#ifndef LUFD_COMMON_PRIVATE_FILE_H_
#define LUFD_COMMON_PRIVATE_FILE_H_

#include <sys/stat.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace lufd {

// The rule above for an already stat()ed file. `what` names the file in the
// message ("dns.dnssec.key_dir file", "grpc.tls.key_file").
absl::Status CheckSecretFileStat(absl::string_view what,
                                 const std::string& path,
                                 const struct stat& st);

// stat()s `path` (following symlinks, as the readers do) and applies the
// rule. A missing file is NOT_FOUND.
absl::Status CheckSecretFile(absl::string_view what, const std::string& path);

// The same for an open descriptor (no race between check and read).
absl::Status CheckSecretFd(absl::string_view what, const std::string& path,
                           int fd);

// The directory rule for `dir`, then the file rule for every regular file in
// it whose name starts with `prefix` and ends with `suffix` (the private
// keys a directory is for; "K", ".pem" for DNSSEC keys). NOT_FOUND when
// `dir` does not exist.
absl::Status CheckSecretDir(absl::string_view what, const std::string& dir,
                            absl::string_view prefix, absl::string_view suffix);

// The private key files in dns.dnssec.key_dir: "K<zone>+<alg>+<tag>.pem"
// (KeyManager writes them; CheckSecretDir's prefix and suffix for it).
inline constexpr absl::string_view kDnssecKeyFilePrefix = "K";
inline constexpr absl::string_view kDnssecKeyFileSuffix = ".pem";

// "0644": the permission bits of `mode` in octal.
std::string OctalMode(mode_t mode);

}  // namespace lufd

#endif  // LUFD_COMMON_PRIVATE_FILE_H_
