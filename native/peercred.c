/*
 * peercred: the credentials of the process at the other end of a connected unix socket, from the
 * kernel (getsockopt SO_PEERCRED), for bangerd-root's caller check. Node has no API for it.
 *
 *   peercred(fd) -> { pid, uid, gid }     throws Error with .code = errno name on failure
 *
 * Built by scripts/build.mjs with the system C compiler against Node's own node_api.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <node_api.h>

static napi_value throw_errno(napi_env env, int err) {
  const char *name = err == EBADF ? "EBADF" : err == ENOTSOCK ? "ENOTSOCK" : err == ENOPROTOOPT ? "ENOPROTOOPT" : err == EINVAL ? "EINVAL" : "EUNKNOWN";
  napi_throw_error(env, name, strerror(err));
  return NULL;
}

static napi_value peercred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, "EINVAL", "peercred(fd): fd is required");
    return NULL;
  }
  int32_t fd = -1;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "peercred(fd): fd must be a non-negative integer");
    return NULL;
  }
  struct ucred cred;
  socklen_t len = sizeof(cred);
  memset(&cred, 0, sizeof(cred));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return throw_errno(env, errno);
  if (len != sizeof(cred)) return throw_errno(env, EINVAL);
  napi_value out, pid, uid, gid;
  if (napi_create_object(env, &out) != napi_ok) return NULL;
  napi_create_int64(env, cred.pid, &pid);
  napi_create_int64(env, cred.uid, &uid);
  napi_create_int64(env, cred.gid, &gid);
  napi_set_named_property(env, out, "pid", pid);
  napi_set_named_property(env, out, "uid", uid);
  napi_set_named_property(env, out, "gid", gid);
  return out;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  if (napi_create_function(env, "peercred", NAPI_AUTO_LENGTH, peercred, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "peercred", fn) != napi_ok) return NULL;
  return exports;
}
