#include "common/private_file.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lufd {
namespace {

absl::Status StatError(absl::string_view what, const std::string& path,
                       int err) {
  std::string msg = absl::StrCat(what, " ", path, ": ", strerror(err));
  return err == ENOENT ? absl::NotFoundError(msg)
                       : absl::FailedPreconditionError(msg);
}

// Owner check shared by files and directories: us or root.
absl::Status CheckOwner(absl::string_view what, const std::string& path,
                        const struct stat& st) {
  const uid_t me = geteuid();
  if (st.st_uid == me || st.st_uid == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(what, " ", path, " is owned by uid ", st.st_uid,
                   ": it must be owned by the user lufd runs as (uid ", me,
                   ") or root; fix: chown ", me, " ", path));
}

}  // namespace

std::string OctalMode(mode_t mode) {
  return absl::StrFormat("%04o", static_cast<unsigned>(mode & 07777));
}

absl::Status CheckSecretFileStat(absl::string_view what,
                                 const std::string& path,
                                 const struct stat& st) {
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", path, " is not a regular file"));
  }
  if (absl::Status s = CheckOwner(what, path, st); !s.ok()) return s;
  // Root-owned (and we are not root): group read allowed, as for keys in
  // /etc/ssl/private (0640 root:ssl-cert).
  const bool root_owned = st.st_uid == 0 && geteuid() != 0;
  const mode_t forbidden = root_owned ? 0037 : 0077;
  if ((st.st_mode & forbidden) == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      what, " ", path, " has mode ", OctalMode(st.st_mode),
      ": a file holding secrets must not be accessible by ",
      root_owned ? "others or writable by its group" : "group or others",
      "; lufd refuses it (as ssh does; if others could read it, consider the "
      "secret exposed and replace it); fix: chmod ",
      root_owned ? "640 " : "600 ", path));
}

absl::Status CheckSecretFile(absl::string_view what, const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return StatError(what, path, errno);
  return CheckSecretFileStat(what, path, st);
}

absl::Status CheckSecretFd(absl::string_view what, const std::string& path,
                           int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return StatError(what, path, errno);
  return CheckSecretFileStat(what, path, st);
}

absl::Status CheckSecretDir(absl::string_view what, const std::string& dir,
                            absl::string_view prefix,
                            absl::string_view suffix) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return StatError(what, dir, errno);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", dir, " is not a directory"));
  }
  if (absl::Status s = CheckOwner(what, dir, st); !s.ok()) return s;
  if ((st.st_mode & 0022) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " ", dir, " has mode ", OctalMode(st.st_mode),
        ": a directory of private keys must not be writable by group or "
        "others (they could remove or plant keys); lufd refuses it, as ssh "
        "does; fix: chmod 700 ",
        dir));
  }
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return StatError(what, dir, errno);
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d)) {
    const absl::string_view name(e->d_name);
    if (name != "." && name != ".." && absl::StartsWith(name, prefix) &&
        absl::EndsWith(name, suffix)) {
      names.emplace_back(name);
    }
  }
  closedir(d);
  std::sort(names.begin(), names.end());  // Stable messages.
  for (const std::string& name : names) {
    const std::string path = absl::StrCat(dir, "/", name);
    struct stat fst;
    if (lstat(path.c_str(), &fst) != 0) continue;  // Gone meanwhile.
    if (S_ISDIR(fst.st_mode)) continue;            // Not ours to judge.
    if (stat(path.c_str(), &fst) != 0) return StatError(what, path, errno);
    if (absl::Status s =
            CheckSecretFileStat(absl::StrCat(what, " file"), path, fst);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace lufd
