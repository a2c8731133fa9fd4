/* Namespaces and the empty root: the parts of the jail that change what a
 * worker can see rather than what it can call.
 *
 * Each namespace is unshared on its own, so a kernel or container that
 * refuses one (EPERM under a seccomp profile or without CAP_SYS_ADMIN,
 * EINVAL where a kind is compiled out, ENOSPC at a namespace count limit)
 * still gives the others, and the report says exactly which were refused
 * and why. The user namespace goes first: inside it an unprivileged caller
 * holds every capability over the namespaces it creates next. The caller's
 * uid and gid are mapped to root inside (setgroups denied, as the kernel
 * requires for an unprivileged gid map); see docs/jail.md for why a host
 * root caller stays host root in the kernel's eyes.
 *
 * The empty root is a tiny read-only tmpfs (nosuid, nodev, noexec) that
 * becomes "/" through pivot_root, with the old root detached, so there is
 * no /proc, no /dev and no file at all to open. It needs the mount
 * namespace — without one a pivot or chroot would change the host's view,
 * so the layer is reported unavailable instead. Where pivot_root is
 * refused (a root file system that is the initramfs) it falls back to
 * chroot into the same tmpfs, which is as empty but leaves the old tree
 * mounted underneath.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "jail/jail.h"

static const char *const layer_names[JAIL_LAYER_COUNT] = {
    [JAIL_USER_NS] = "user-ns",     [JAIL_PID_NS] = "pid-ns",         [JAIL_NET_NS] = "net-ns",
    [JAIL_MOUNT_NS] = "mount-ns",   [JAIL_IPC_NS] = "ipc-ns",         [JAIL_UTS_NS] = "uts-ns",
    [JAIL_FDS] = "close-fds",       [JAIL_EMPTY_ROOT] = "empty-root", [JAIL_RLIMITS] = "rlimits",
    [JAIL_NO_NEW_PRIVS] = "no-new-privs", [JAIL_CAPS] = "caps-dropped", [JAIL_SECCOMP] = "seccomp",
};

const char *jail_layer_name(enum jail_layer layer) {
    return (unsigned)layer < JAIL_LAYER_COUNT ? layer_names[layer] : NULL;
}

void jail_result_set(struct jail_layer_result *r, int active, int err, const char *fmt, ...) {
    r->active = active;
    r->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
}

/* Writes s to a /proc file in one write, as the id-map files demand. */
static int write_file(const char *path, const char *s) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = strlen(s);
    ssize_t n = write(fd, s, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)len ? 0 : -1;
}

static void unshare_user(struct jail_layer_result *r) {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER) != 0) {
        jail_result_set(r, 0, errno, "unshare(CLONE_NEWUSER) refused: %s", strerror(errno));
        return;
    }
    char map[64];
    /* An unprivileged process may map only its own ids, and only after
     * giving up setgroups(2) (which could otherwise drop a group that
     * denies it access). */
    if (write_file("/proc/self/setgroups", "deny") != 0 && errno != ENOENT) {
        jail_result_set(r, 1, errno, "new namespace, but setgroups deny failed: %s", strerror(errno));
        return;
    }
    snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
    if (write_file("/proc/self/uid_map", map) != 0) {
        jail_result_set(r, 1, errno, "new namespace, but uid_map failed: %s", strerror(errno));
        return;
    }
    snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
    if (write_file("/proc/self/gid_map", map) != 0) {
        jail_result_set(r, 1, errno, "new namespace, but gid_map failed: %s", strerror(errno));
        return;
    }
    jail_result_set(r, 1, 0, "uid %u and gid %u are root inside, nothing else is mapped", (unsigned)uid,
                    (unsigned)gid);
}

static void unshare_one(int flag, const char *flag_name, const char *what, struct jail_layer_result *r) {
    if (unshare(flag) != 0)
        jail_result_set(r, 0, errno, "unshare(%s) refused: %s", flag_name, strerror(errno));
    else
        jail_result_set(r, 1, 0, "%s", what);
}

void jail_unshare(const struct jail_config *cfg, int with_pid, struct jail_report *rep) {
    struct jail_layer_result *L = rep->layer;
    unsigned ns = cfg->namespaces;
    if (ns & JAIL_NS_USER)
        unshare_user(&L[JAIL_USER_NS]);
    else
        jail_result_set(&L[JAIL_USER_NS], 0, 0, "not requested");

    if (!(ns & JAIL_NS_PID))
        jail_result_set(&L[JAIL_PID_NS], 0, 0, "not requested");
    else if (!with_pid)
        jail_result_set(&L[JAIL_PID_NS], 0, 0, "not applied: only children enter a new PID namespace (use jail_spawn)");
    else
        unshare_one(CLONE_NEWPID, "CLONE_NEWPID", "the worker is PID 1 and sees no other process",
                    &L[JAIL_PID_NS]);

    if (ns & JAIL_NS_NET)
        unshare_one(CLONE_NEWNET, "CLONE_NEWNET", "no interface but a down loopback", &L[JAIL_NET_NS]);
    else
        jail_result_set(&L[JAIL_NET_NS], 0, 0, "not requested");

    if (ns & JAIL_NS_MOUNT) {
        unshare_one(CLONE_NEWNS, "CLONE_NEWNS", "private mount table", &L[JAIL_MOUNT_NS]);
        /* Nothing done here may propagate back to the host's mounts. */
        if (L[JAIL_MOUNT_NS].active && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
            jail_result_set(&L[JAIL_MOUNT_NS], 0, errno, "new namespace, but making mounts private failed: %s",
                            strerror(errno));
    } else {
        jail_result_set(&L[JAIL_MOUNT_NS], 0, 0, "not requested");
    }

    if (ns & JAIL_NS_IPC)
        unshare_one(CLONE_NEWIPC, "CLONE_NEWIPC", "no System V or POSIX IPC objects of the host", &L[JAIL_IPC_NS]);
    else
        jail_result_set(&L[JAIL_IPC_NS], 0, 0, "not requested");

    if (ns & JAIL_NS_UTS) {
        unshare_one(CLONE_NEWUTS, "CLONE_NEWUTS", "hostname \"sandbox\"", &L[JAIL_UTS_NS]);
        /* The inherited name is the host's: do not leak it. */
        if (L[JAIL_UTS_NS].active && sethostname("sandbox", 7) != 0)
            jail_result_set(&L[JAIL_UTS_NS], 1, errno, "new namespace, but sethostname failed: %s",
                            strerror(errno));
    } else {
        jail_result_set(&L[JAIL_UTS_NS], 0, 0, "not requested");
    }
}

/* Directories the empty tmpfs may be mounted on before the pivot; any
 * existing one will do, since the mount is private to the namespace. */
static const char *const mount_points[] = {"/tmp", "/mnt", "/run", "/var/tmp"};

void jail_empty_root(struct jail_layer_result *out) {
    const char *dir = NULL;
    int err = 0;
    for (size_t i = 0; i < sizeof mount_points / sizeof mount_points[0]; i++) {
        if (mount("corral-jail", mount_points[i], "tmpfs",
                  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=1,mode=0555") == 0) {
            dir = mount_points[i];
            break;
        }
        err = errno;
    }
    if (!dir) {
        jail_result_set(out, 0, err, "mounting the empty tmpfs failed: %s", strerror(err));
        return;
    }
    if (chdir(dir) != 0) {
        jail_result_set(out, 0, errno, "chdir(%s): %s", dir, strerror(errno));
        return;
    }
    /* pivot_root(".", ".") stacks the old root on the new one; detaching
     * it then leaves only the tmpfs (the idiom of pivot_root(2)). */
    if (syscall(SYS_pivot_root, ".", ".") == 0) {
        if (umount2(".", MNT_DETACH) != 0) {
            jail_result_set(out, 0, errno, "pivoted, but detaching the old root failed: %s", strerror(errno));
            return;
        }
        if (chdir("/") != 0) {
            jail_result_set(out, 0, errno, "chdir(/) after the pivot: %s", strerror(errno));
            return;
        }
        jail_result_set(out, 1, 0, "pivot_root into an empty read-only tmpfs; no /proc, no /dev");
        return;
    }
    int perr = errno;
    if (chroot(".") != 0 || chdir("/") != 0) {
        jail_result_set(out, 0, errno, "pivot_root (%s) and chroot (%s) both refused", strerror(perr),
                        strerror(errno));
        return;
    }
    jail_result_set(out, 1, perr, "chroot into an empty read-only tmpfs (pivot_root refused: %s)", strerror(perr));
}
