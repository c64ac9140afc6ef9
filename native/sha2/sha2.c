/*
 * Resumable SHA-256/SHA-512 for Node: OpenSSL's low-level digest functions
 * (SHA256_Update, SHA512_Update), whose context is a plain public struct, so its
 * state can be saved between requests; Node's crypto.Hash cannot export it.
 *
 * The symbols are not linked here: they resolve at load time from the Node process,
 * which exports its own OpenSSL (statically linked official builds) or has loaded
 * libcrypto (distribution builds). OpenSSL picks its block function by CPU at run
 * time (SHA extensions where the CPU has them).
 *
 * The context lives in a JavaScript Uint8Array the caller allocates (`contextSize`
 * bytes, fresh, so 8-byte aligned): no native handle, no finaliser, and the caller
 * reads and writes the state through the field offsets exported as `layout`
 * (src/adapters/native-sha2/state.ts converts it to and from hash-wasm's state).
 * The functions take the context's size to tell SHA-256 from SHA-512.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#define NAPI_VERSION 8
#include <node_api.h>
#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>

#define CHECK(call)                                  \
  do {                                               \
    if ((call) != napi_ok) return NULL;              \
  } while (0)

static napi_value fail(napi_env env, const char* message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

/* The bytes of a Uint8Array argument. */
static int bytes_of(napi_env env, napi_value value, uint8_t** data, size_t* length) {
  bool is_typedarray = false;
  if (napi_is_typedarray(env, value, &is_typedarray) != napi_ok || !is_typedarray) return 0;
  napi_typedarray_type type;
  void* base = NULL;
  if (napi_get_typedarray_info(env, value, &type, length, &base, NULL, NULL) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  *data = (uint8_t*)base;
  return 1;
}

/* The context argument: a Uint8Array of exactly one context's size, aligned for it. */
static int context_of(napi_env env, napi_value value, uint8_t** context, size_t* size) {
  if (!bytes_of(env, value, context, size)) return 0;
  if (*size != sizeof(SHA256_CTX) && *size != sizeof(SHA512_CTX)) return 0;
  return ((uintptr_t)*context % 8) == 0;
}

static const char* BAD_CONTEXT = "expected a SHA-2 context: a fresh Uint8Array of layout.sha256.size or layout.sha512.size bytes";

/* init(context) */
static napi_value sha2_init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t* context;
  size_t size;
  if (argc < 1 || !context_of(env, argv[0], &context, &size)) return fail(env, BAD_CONTEXT);
  if (size == sizeof(SHA256_CTX)) SHA256_Init((SHA256_CTX*)context);
  else SHA512_Init((SHA512_CTX*)context);
  return NULL;
}

/* update(context, bytes) */
static napi_value sha2_update(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t* context;
  size_t size;
  uint8_t* data;
  size_t length;
  if (argc < 2 || !context_of(env, argv[0], &context, &size)) return fail(env, BAD_CONTEXT);
  if (!bytes_of(env, argv[1], &data, &length)) return fail(env, "expected the bytes to hash as a Uint8Array");
  if (size == sizeof(SHA256_CTX)) SHA256_Update((SHA256_CTX*)context, data, length);
  else SHA512_Update((SHA512_CTX*)context, data, length);
  return NULL;
}

/* final(context, digest): writes 32 or 64 bytes into digest; the context is spent. */
static napi_value sha2_final(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t* context;
  size_t size;
  uint8_t* digest;
  size_t length;
  if (argc < 2 || !context_of(env, argv[0], &context, &size)) return fail(env, BAD_CONTEXT);
  size_t needed = size == sizeof(SHA256_CTX) ? SHA256_DIGEST_LENGTH : SHA512_DIGEST_LENGTH;
  if (!bytes_of(env, argv[1], &digest, &length) || length < needed) return fail(env, "expected a Uint8Array large enough for the digest");
  if (size == sizeof(SHA256_CTX)) SHA256_Final(digest, (SHA256_CTX*)context);
  else SHA512_Final(digest, (SHA512_CTX*)context);
  return NULL;
}

static napi_value number(napi_env env, size_t value) {
  napi_value result;
  if (napi_create_uint32(env, (uint32_t)value, &result) != napi_ok) return NULL;
  return result;
}

static int set(napi_env env, napi_value object, const char* name, napi_value value) {
  return value != NULL && napi_set_named_property(env, object, name, value) == napi_ok;
}

/* { size, h, Nl, Nh, data, num }: byte offsets of the fields the state conversion reads. */
#define LAYOUT(env, out, type, data_field)                                              \
  do {                                                                                  \
    CHECK(napi_create_object(env, &out));                                               \
    if (!set(env, out, "size", number(env, sizeof(type))) ||                            \
        !set(env, out, "h", number(env, offsetof(type, h))) ||                          \
        !set(env, out, "Nl", number(env, offsetof(type, Nl))) ||                        \
        !set(env, out, "Nh", number(env, offsetof(type, Nh))) ||                        \
        !set(env, out, "data", number(env, offsetof(type, data_field))) ||              \
        !set(env, out, "num", number(env, offsetof(type, num))))                        \
      return NULL;                                                                      \
  } while (0)

static napi_value sha2_module(napi_env env, napi_value exports) {
  napi_value init, update, final, layout, sha256, sha512;
  CHECK(napi_create_function(env, "init", NAPI_AUTO_LENGTH, sha2_init, NULL, &init));
  CHECK(napi_create_function(env, "update", NAPI_AUTO_LENGTH, sha2_update, NULL, &update));
  CHECK(napi_create_function(env, "final", NAPI_AUTO_LENGTH, sha2_final, NULL, &final));
  LAYOUT(env, sha256, SHA256_CTX, data);
  LAYOUT(env, sha512, SHA512_CTX, u.p);
  CHECK(napi_create_object(env, &layout));
  if (!set(env, layout, "sha256", sha256) || !set(env, layout, "sha512", sha512)) return NULL;
  if (!set(env, exports, "init", init) || !set(env, exports, "update", update) || !set(env, exports, "final", final) ||
      !set(env, exports, "layout", layout))
    return NULL;
  return exports;
}

NAPI_MODULE_INIT() { return sha2_module(env, exports); }
