/* The wire format: the one value format that crosses every boundary in
 * corral — between two sandboxes in one process, across a jailed worker's
 * socket, and (later) into durable execution logs.
 *
 * A *payload* is a version byte followed by one encoded value. Values are
 * structured-clone types plus references to remote objects ("stubs"), which
 * never appear as raw ids: a payload names a stub by its index into the
 * *cap list* carried next to it in the message envelope, so a router (the
 * loader in-process, the supervisor for jailed workers) can translate and
 * police capabilities without re-encoding payloads. See docs/wire-format.md.
 *
 * The decoder is a pull-free, callback-driven walker (struct wire_visitor):
 * one bounded, fuzzed decoder serves every consumer — the engine builds
 * JavaScript values from it, the host side builds JSON for C callbacks.
 * Nothing here knows about JavaScript engines; this layer depends on nothing
 * of ours.
 */
#ifndef CORRAL_WIRE_H
#define CORRAL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 1

/* Hard ceilings the decoder enforces whatever the caller asks for. */
#define WIRE_MAX_DEPTH 256          /* nesting of arrays/objects/maps/sets/errors */
#define WIRE_MAX_CAPS 4096          /* entries in one message's cap list */
#define WIRE_MAX_NAME 1024          /* bytes in a CALL's method name */

enum wire_tag {
    WIRE_UNDEFINED = 0x01,
    WIRE_NULL = 0x02,
    WIRE_FALSE = 0x03,
    WIRE_TRUE = 0x04,
    WIRE_INT = 0x05,        /* zigzag varint, |n| <= 2^53 */
    WIRE_FLOAT = 0x06,      /* IEEE-754 double, little-endian */
    WIRE_BIGINT = 0x07,     /* sign byte (0/1), varint byte length, magnitude little-endian */
    WIRE_STRING = 0x08,     /* varint byte length, WTF-8 bytes */
    WIRE_DATE = 0x09,       /* double ms since epoch (may be NaN) */
    WIRE_REGEXP = 0x0a,     /* source, flags: each varint byte length + WTF-8, no tag */
    WIRE_ARRAY = 0x0b,      /* varint length, then length values (WIRE_HOLE allowed) */
    WIRE_OBJECT = 0x0c,     /* varint count, then count (string key, value) pairs */
    WIRE_MAP = 0x0d,        /* varint count, then count (key value, value) pairs */
    WIRE_SET = 0x0e,        /* varint count, then count values */
    WIRE_BYTES = 0x0f,      /* byte kind (enum wire_bytes_kind), varint length, bytes */
    WIRE_ERROR = 0x10,      /* name, message (varint length + WTF-8, no tag), u8 has_stack (0/1),
                               [stack], then a WIRE_OBJECT of extra props */
    WIRE_BACKREF = 0x11,    /* varint index of an earlier object (arrays, objects, maps, sets, errors, bytes) */
    WIRE_STUB = 0x12,       /* varint index into the envelope's cap list */
    WIRE_HOLE = 0x13,       /* an array hole; only valid directly inside WIRE_ARRAY */
};

/* What a WIRE_BYTES value was on the sending side. ArrayBuffer and views are
 * sent as copies of their visible bytes; the element type is kept so the
 * receiver rebuilds the same kind of view. */
enum wire_bytes_kind {
    WIRE_BYTES_ARRAYBUFFER = 0,
    WIRE_BYTES_UINT8 = 1,
    WIRE_BYTES_INT8 = 2,
    WIRE_BYTES_UINT8C = 3,
    WIRE_BYTES_INT16 = 4,
    WIRE_BYTES_UINT16 = 5,
    WIRE_BYTES_INT32 = 6,
    WIRE_BYTES_UINT32 = 7,
    WIRE_BYTES_FLOAT32 = 8,
    WIRE_BYTES_FLOAT64 = 9,
    WIRE_BYTES_BIGINT64 = 10,
    WIRE_BYTES_BIGUINT64 = 11,
    WIRE_BYTES_DATAVIEW = 12,
    WIRE_BYTES_FLOAT16 = 13,
    WIRE_BYTES_KIND_COUNT
};

/* ---- errors -------------------------------------------------------------- */

enum wire_status {
    WIRE_OK = 0,
    WIRE_ERR_NOMEM = -1,       /* allocation failed */
    WIRE_ERR_TRUNCATED = -2,   /* input ended inside a value */
    WIRE_ERR_MALFORMED = -3,   /* unknown tag, bad varint, bad WTF-8, trailing bytes, bad version, ... */
    WIRE_ERR_TOO_DEEP = -4,    /* nesting deeper than the limit */
    WIRE_ERR_TOO_LARGE = -5,   /* output/input larger than the caller's byte limit */
    WIRE_ERR_BAD_REF = -6,     /* a backref or stub index that does not exist */
    WIRE_ERR_VISITOR = -7,     /* a visitor callback refused the value */
};

/* A human-readable name for a status, e.g. "truncated input". Static. */
const char *wire_status_message(int status);

/* The decimal digits of v, written at the end of buf (20 bytes hold any
 * uint64_t; no NUL); returns where they start. For the numbers a message
 * is full of (indexes, integers), where printf would dominate. */
#define WIRE_U64_DIGITS 20
char *wire_u64_digits(uint64_t v, char buf[WIRE_U64_DIGITS]);

/* ---- writing ------------------------------------------------------------- */

/* A growable output buffer with a byte ceiling. Every put function returns
 * WIRE_OK or a negative wire_status; after a failure the buffer is poisoned
 * (further puts fail with the same status) so callers may check once at the
 * end. */
struct wire_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t limit;      /* maximum len; 0 means SIZE_MAX */
    int status;        /* first failure, or WIRE_OK */
};

void wire_buf_init(struct wire_buf *b, size_t limit);
void wire_buf_free(struct wire_buf *b);
/* Hands the bytes to the caller (who frees them with free()) and resets b.
 * Never NULL on success (an empty buffer gives a 1-byte allocation); a
 * poisoned buffer is freed and gives NULL. wire_buf_free also resets b for
 * reuse with the same limit. */
uint8_t *wire_buf_take(struct wire_buf *b, size_t *len);

int wire_put_raw(struct wire_buf *b, const void *p, size_t n);
int wire_put_u8(struct wire_buf *b, uint8_t v);
int wire_put_varint(struct wire_buf *b, uint64_t v);
/* Begins a payload: writes the version byte. */
int wire_put_header(struct wire_buf *b);
int wire_put_undefined(struct wire_buf *b);
int wire_put_null(struct wire_buf *b);
int wire_put_bool(struct wire_buf *b, int v);
/* Strings (here and in keys, regexps, errors) must be WTF-8: UTF-8 plus lone
 * surrogates as three-byte sequences, which is what QuickJS's
 * JS_ToCStringLen (cesu8 = 0) produces. Anything else poisons the buffer
 * with WIRE_ERR_MALFORMED, as do NULL pointers with a nonzero length. */

/* Writes WIRE_INT when d is an integer with |d| <= 2^53 and not -0, else WIRE_FLOAT. */
int wire_put_number(struct wire_buf *b, double d);
/* High zero bytes are dropped and -0n becomes 0n: the decoder accepts only
 * that canonical form. */
int wire_put_bigint(struct wire_buf *b, int negative, const uint8_t *magnitude_le, size_t len);
int wire_put_string(struct wire_buf *b, const char *s, size_t len);
int wire_put_date(struct wire_buf *b, double ms);
int wire_put_regexp(struct wire_buf *b, const char *src, size_t src_len, const char *flags, size_t flags_len);
int wire_put_array_begin(struct wire_buf *b, uint64_t length);
int wire_put_hole(struct wire_buf *b);
int wire_put_object_begin(struct wire_buf *b, uint64_t count);
/* An object key: same bytes as a string value without the tag. */
int wire_put_key(struct wire_buf *b, const char *s, size_t len);
int wire_put_map_begin(struct wire_buf *b, uint64_t count);
int wire_put_set_begin(struct wire_buf *b, uint64_t count);
/* len must be a multiple of the kind's element size (WIRE_ERR_MALFORMED). */
int wire_put_bytes(struct wire_buf *b, enum wire_bytes_kind kind, const void *p, size_t len);
/* Followed by: name and message via wire_put_key-style strings (written by
 * this call), then has_stack ? the stack string : nothing, then the caller
 * writes extra props as wire_put_object_begin(count) + pairs. */
int wire_put_error_begin(struct wire_buf *b, const char *name, size_t name_len,
                         const char *message, size_t message_len,
                         const char *stack, size_t stack_len /* stack==NULL: none */);
int wire_put_backref(struct wire_buf *b, uint64_t index);
int wire_put_stub(struct wire_buf *b, uint64_t cap_index);

/* ---- reading ------------------------------------------------------------- */

/* Callbacks the decoder makes, in document order. Each returns 0 to go on or
 * nonzero to stop decoding (wire_decode then returns WIRE_ERR_VISITOR).
 * Strings are not NUL-terminated and live only for the call. Containers
 * are announced with their declared count, then their children, then end.
 * Object-like values (array, object, map, set, error, bytes) are numbered
 * from 0 in the order their begin (or bytes) callback is made; a backref
 * names one of those numbers, and only containers whose begin has already
 * been made may be referenced. An error's extra-props object is numbered
 * too (it takes the number after its error), so an encoder that assigns
 * numbers must count it. Nesting counts arrays, objects, maps, sets and
 * errors; an error and its props object are two levels. */
struct wire_visitor {
    int (*undefined_)(void *ud);
    int (*null_)(void *ud);
    int (*boolean)(void *ud, int v);
    int (*number)(void *ud, double v);
    int (*bigint)(void *ud, int negative, const uint8_t *magnitude_le, size_t len);
    int (*string)(void *ud, const char *s, size_t len);
    int (*date)(void *ud, double ms);
    int (*regexp)(void *ud, const char *src, size_t src_len, const char *flags, size_t flags_len);
    int (*array_begin)(void *ud, uint64_t length);
    int (*hole)(void *ud);
    int (*array_end)(void *ud);
    int (*object_begin)(void *ud, uint64_t count);
    int (*key)(void *ud, const char *s, size_t len);
    int (*object_end)(void *ud);
    int (*map_begin)(void *ud, uint64_t count);
    int (*map_end)(void *ud);
    int (*set_begin)(void *ud, uint64_t count);
    int (*set_end)(void *ud);
    int (*bytes)(void *ud, enum wire_bytes_kind kind, const uint8_t *p, size_t len);
    /* The extra-props object of an error follows as object_begin/.../object_end
     * and then error_end. */
    int (*error_begin)(void *ud, const char *name, size_t name_len, const char *message,
                       size_t message_len, const char *stack, size_t stack_len /* NULL: none */);
    int (*error_end)(void *ud);
    int (*backref)(void *ud, uint64_t index);
    int (*stub)(void *ud, uint64_t cap_index);
};

/* A NULL limits means the defaults: depth WIRE_MAX_DEPTH, no caps. */
struct wire_limits {
    size_t max_depth;       /* 0 = WIRE_MAX_DEPTH; never more than it */
    uint64_t cap_count;     /* stubs must name an index < cap_count */
};

/* Decodes one payload (version byte + exactly one value, no trailing bytes).
 * Validates everything before reporting it: varints, lengths against the
 * remaining input, WTF-8, tags, nesting, backref and stub indexes, counts
 * against the remaining input (so a tiny input cannot announce a huge
 * container and make the visitor allocate for it). Never reads outside
 * [data, data+len). Returns WIRE_OK or a negative wire_status; *err_offset
 * (if given) receives the byte offset where decoding stopped. */
int wire_decode(const uint8_t *data, size_t len, const struct wire_limits *limits,
                const struct wire_visitor *v, void *ud, size_t *err_offset);

/* Checks a payload without building anything (a visitor that accepts all). */
int wire_validate(const uint8_t *data, size_t len, const struct wire_limits *limits);

/* ---- JSON bridge --------------------------------------------------------- */

/* Converts a payload to JSON text for C hosts (caller frees with free()).
 * Mapping: undefined → omitted in objects, null in arrays and at top level;
 * NaN/±Infinity → null; BigInt → decimal string; Date → ISO-8601 string
 * (null if invalid); RegExp → "/src/flags"; Map → array of [key, value];
 * Set → array; bytes → base64 string; Error → {"name","message","stack"?, extra...};
 * stub → {"$stub": cap_index}; a backref (shared or cyclic object) →
 * WIRE_ERR_MALFORMED for cycles, a repeated copy for shared acyclic ones.
 * Strings are made valid UTF-8 (lone surrogates become U+FFFD); integral
 * numbers up to 1e21 print as integers, others as the shortest text that
 * reads back as the same double. JSON nesting deeper than WIRE_JSON_MAX_DEPTH
 * (shared copies can deepen it) is WIRE_ERR_TOO_DEEP; a BigInt of more than
 * WIRE_JSON_MAX_BIGINT bytes is WIRE_ERR_TOO_LARGE. max_json_bytes bounds
 * the text (without its NUL); 0 means WIRE_JSON_DEFAULT_MAX — shared
 * backrefs can make JSON exponentially larger than the payload, so there
 * is always a bound. Returns NULL and sets *status on failure. */
#define WIRE_JSON_DEFAULT_MAX ((size_t)64 << 20)
#define WIRE_JSON_MAX_DEPTH 512
#define WIRE_JSON_MAX_BIGINT ((size_t)128 << 10)
char *wire_to_json(const uint8_t *data, size_t len, const struct wire_limits *limits,
                   size_t max_json_bytes, int *status);

/* Encodes JSON text as a payload (version byte included). Objects keep key
 * order (a repeated key keeps its first place and its last value); numbers
 * become WIRE_INT/WIRE_FLOAT as wire_put_number decides, including integers
 * too large for int64. max_bytes bounds the payload (0: no limit; over it:
 * WIRE_ERR_TOO_LARGE); nesting deeper than WIRE_MAX_DEPTH is
 * WIRE_ERR_TOO_DEEP. Returns NULL and sets *status (WIRE_ERR_MALFORMED for
 * bad JSON, with "line L, column C: reason" in err if given) on failure. */
uint8_t *wire_from_json(const char *json, size_t json_len, size_t max_bytes, size_t *out_len,
                        int *status, char *err, size_t err_size);

/* Decodes base64 (standard or URL-safe; padding and whitespace ignored) as
 * wire_to_json writes bytes. Returns a malloc'd buffer, or NULL on a bad
 * character or no memory. */
uint8_t *wire_base64_decode(const char *s, size_t len, size_t *out_len);

/* ---- message envelopes --------------------------------------------------- */

/* What a message does. Calls and returns carry a payload; the others may not. */
enum wire_msg_kind {
    WIRE_MSG_CALL = 1,      /* invoke method `name` on `target` with payload = args array */
    WIRE_MSG_RETURN = 2,    /* call `id` fulfilled with payload */
    WIRE_MSG_THROW = 3,     /* call `id` rejected with payload (usually an error) */
    WIRE_MSG_RELEASE = 4,   /* the sender drops its reference to cap `target` */
    WIRE_MSG_CANCEL = 5,    /* the sender no longer wants the answer to call `id` */
    WIRE_MSG_KIND_MAX = 5
};

/* One entry of a message's cap list: what the sender means by a stub index. */
enum wire_cap_kind {
    WIRE_CAP_EXPORT = 1,    /* an object the sender owns; id is the sender's local object id */
    WIRE_CAP_IMPORT = 2,    /* a stub the sender holds; id is its index in the sender's import table */
};

#define WIRE_MSG_MAGIC 0xc1          /* first byte of every envelope (payloads start 0x01) */
#define WIRE_MSG_F_NAME 0x01         /* envelope flag: a method name follows */

struct wire_cap {
    uint8_t kind;           /* enum wire_cap_kind */
    uint8_t flags;          /* WIRE_CAP_F_* */
    uint64_t id;
};
#define WIRE_CAP_F_NO_TRANSFER 0x01   /* may not be passed on to a third party */
#define WIRE_CAP_F_FUNCTION 0x02      /* the object is callable itself (a function), not only its methods */
#define WIRE_CAP_F_ALL 0x03           /* any other flag bit is WIRE_ERR_MALFORMED */

struct wire_msg {
    uint8_t kind;           /* enum wire_msg_kind */
    uint64_t id;            /* call id chosen by the caller; echoed by RETURN/THROW/CANCEL */
    uint64_t target;        /* CALL/RELEASE: import index in the sender's table */
    const char *name;       /* CALL: method name (NULL when the target itself is called); not NUL-terminated */
    size_t name_len;
    struct wire_cap *caps;  /* decoded: points into storage owned by the caller of wire_msg_decode */
    size_t cap_count;
    const uint8_t *payload; /* decoded: points into the input buffer */
    size_t payload_len;
};

/* Encodes an envelope (header, name, caps, payload) into b. Both sides
 * enforce the same rules: only CALL may have a name (<= WIRE_MAX_NAME
 * bytes, WTF-8); CALL/RETURN/THROW must carry a payload, RELEASE/CANCEL
 * carry neither payload nor caps; at most WIRE_MAX_CAPS caps, each of a
 * known kind with only known flags. Breaking a rule poisons b with
 * WIRE_ERR_MALFORMED (WIRE_ERR_TOO_LARGE for name and cap counts). The
 * payload itself is copied, not checked. */
int wire_msg_encode(struct wire_buf *b, const struct wire_msg *m);

/* Decodes an envelope. caps_storage must hold max_caps entries; a message
 * with more caps (or more than WIRE_MAX_CAPS) is WIRE_ERR_TOO_LARGE. The payload is bounds-checked but not
 * decoded (call wire_decode on it). Method names are limited to 1 KiB. */
int wire_msg_decode(const uint8_t *data, size_t len, struct wire_msg *out,
                    struct wire_cap *caps_storage, size_t max_caps);

#endif
