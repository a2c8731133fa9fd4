/* The channel between the supervisor and one jailed worker process: how a
 * message is framed on the socket, how it is written, and how the receiving
 * side reads it back without trusting a byte of it.
 *
 * The socket is a SOCK_SEQPACKET pair, so the kernel keeps message
 * boundaries, but a datagram cannot exceed the socket buffer: a message is
 * cut into fragments of at most JAIL_FRAG_BYTES, each led by one byte that
 * says whether more follow, and the receiver stops reassembling at its own
 * ceiling (JAIL_MSG_MAX_BYTES) rather than at whatever the sender claims.
 *
 * A message is one wire-format payload (lib/wire): a flat array of scalar
 * fields — integers as BigInts (so 64-bit ids survive exactly), doubles,
 * byte strings, null. It goes through the one fuzzed decoder, with nesting
 * limited to the array itself, and the reader hands out fields one by one
 * with their type checked (struct jail_fields). Everything the protocol
 * carries (a workercode, a wire message envelope) is spelled as fields of
 * such an array; proto.h says which fields each kind has.
 */
#ifndef CORRAL_JAIL_CHANNEL_H
#define CORRAL_JAIL_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

/* One datagram: a flag byte and at most this many bytes of the message. */
#define JAIL_FRAG_BYTES (60u * 1024u)
/* The flag byte. MORE: further fragments of this message follow. PACKED:
 * the datagram holds several whole messages, each led by its length (4
 * bytes, little-endian), so a batch costs the receiver one system call;
 * never with MORE, and never in the middle of a fragmented message. */
#define JAIL_FLAG_MORE 1u
#define JAIL_FLAG_PACKED 2u
/* The largest message either side accepts: module sources (64 MiB by
 * default) plus slack for the other fields of a start. */
#define JAIL_MSG_MAX_BYTES ((size_t)80 << 20)

/* ---- writing ------------------------------------------------------------ */

struct jail_out {
    struct wire_buf b;
    uint64_t count;         /* fields written so far */
    size_t count_at;        /* where the array header goes */
};

/* Starts a message of the given kind (the first field). */
void jail_out_begin(struct jail_out *o, uint64_t kind);
void jail_out_u64(struct jail_out *o, uint64_t v);
void jail_out_i64(struct jail_out *o, int64_t v);
void jail_out_f64(struct jail_out *o, double v);
void jail_out_bytes(struct jail_out *o, const void *p, size_t len);
/* A NUL-terminated string as bytes, or null for NULL. */
void jail_out_str(struct jail_out *o, const char *s);
void jail_out_null(struct jail_out *o);
/* Sends the message on fd, in fragments. Returns 0, or -1 (errno set; the
 * message could not be built, or the peer is gone). Frees the buffer. */
int jail_out_send(struct jail_out *o, int fd);
void jail_out_free(struct jail_out *o);

/* Messages held back to leave together: a worker's upcalls that need no
 * answer go out with the next one that does (or with TURN_DONE), packed
 * into as few datagrams as fit (JAIL_FLAG_PACKED), so the supervisor,
 * woken once, reads them all with one system call. Order is kept. Only
 * single-fragment messages are held; a bigger one flushes the batch and
 * goes out on its own. */
#define JAIL_BATCH_MAX 32
struct jail_batch {
    uint8_t *msg[JAIL_BATCH_MAX];
    size_t len[JAIL_BATCH_MAX];
    size_t count;
};
/* Adds the message (freeing o's buffer), flushing first when full.
 * Returns 0, or -1 as jail_out_send. */
int jail_out_post(struct jail_out *o, struct jail_batch *b, int fd);
/* Sends everything held, in order. Returns 0, or -1 (the peer is gone). */
int jail_batch_flush(struct jail_batch *b, int fd);
/* Drops everything held, unsent. */
void jail_batch_discard(struct jail_batch *b);

/* ---- reading ------------------------------------------------------------ */

enum jail_field_type { JF_NULL = 1, JF_INT, JF_F64, JF_BYTES };

struct jail_field {
    uint8_t type;
    int negative;           /* JF_INT */
    uint64_t mag;           /* JF_INT: the magnitude */
    double f;               /* JF_F64 */
    const uint8_t *p;       /* JF_BYTES: points into the message */
    size_t len;
};

struct jail_fields {
    struct jail_field *f;
    size_t count;
    size_t next;            /* the reader's position */
    int bad;                /* a read found the wrong type or ran off the end */
};

/* A message being received: reassembled fragments, grown as needed. */
struct jail_in {
    uint8_t *buf;
    size_t len, cap;
    int complete;           /* buf holds a whole message (the last one returned) */
    /* The rest of a packed datagram, handed out before the socket is read
     * again (already checked: whole length-led messages, nothing else). */
    uint8_t *pack;
    size_t pack_len, pack_off, pack_cap;
    /* Before a wait that may block, keep trying for this long (µs): in a
     * run of quick exchanges (capability calls in a loop) the answer comes
     * within microseconds, and a receiver caught awake saves the peer a
     * wake-up, which costs more than that on a virtualised host. Only in
     * such a run, though: a message sent to a peer that was asleep wakes it,
     * often on the sender's own CPU (the kernel's wake-affine placement),
     * where a spinning sender would only keep it from running. So the
     * channel spins once JAIL_SPIN_STREAK exchanges in a row were tight
     * (each wait short and begun soon after the peer's previous message)
     * and the peer was heard from within the window. 0: never. */
    unsigned spin_us;
    unsigned streak;        /* tight exchanges in a row */
    int awaiting;           /* jail_in_sent: the next message answers ours */
    int64_t sent_ns;        /* when that message of ours went */
    int64_t last_msg_ns;    /* when the last whole message arrived */
};
/* Tight exchanges in a row before a channel spins: more than a cold
 * execution makes (its start and first call), so those never spin. */
#define JAIL_SPIN_STREAK 3

/* CLOCK_MONOTONIC in ns: the clock of the supervisor's and the channel's
 * deadlines and waits. */
int64_t jail_mono_ns(void);

/* Notes that a message needing an answer (or the peer's next move) has
 * just been sent on in's socket: the exchange the spin rule counts. */
void jail_in_sent(struct jail_in *in);
/* Whether the next blocking jail_in_recv spins first (the rule above). */
int jail_in_will_spin(const struct jail_in *in);

/* Receives one whole message from fd into in->buf with a wall-clock
 * timeout (ms; -1 waits forever). Returns its length, 0 when the peer has
 * closed, -1 on a framing violation (a datagram larger than a fragment, a
 * message past max_bytes, an empty message) or an error, -2 on timeout.
 * The fragments of a message cut short by a timeout stay in `in` and the
 * next call carries on with them. */
long jail_in_recv(struct jail_in *in, int fd, int timeout_ms, size_t max_bytes);
void jail_in_reset(struct jail_in *in);
/* Whether messages of a packed datagram are still to be handed out. */
int jail_in_buffered(const struct jail_in *in);
void jail_in_free(struct jail_in *in);

/* Decodes a message into fields (which point into data). Returns 0, or -1
 * if it is not a flat array of scalar fields in the wire format. */
int jail_fields_parse(struct jail_fields *out, const uint8_t *data, size_t len);
void jail_fields_free(struct jail_fields *f);
/* Typed reads. A wrong type, a value out of range or the end of the fields
 * sets f->bad and returns 0/NULL; callers check f->bad once at the end. */
uint64_t jail_get_u64(struct jail_fields *f);
int64_t jail_get_i64(struct jail_fields *f);
double jail_get_f64(struct jail_fields *f);
/* Bytes, or NULL with *len 0 for null. */
const uint8_t *jail_get_bytes(struct jail_fields *f, size_t *len);
/* A malloc'd NUL-terminated copy of a bytes field (NULL for null, and bad
 * if it holds a NUL byte or memory ran out). */
char *jail_get_str(struct jail_fields *f);
/* Whether the next field is null (consumes it if so). */
int jail_get_null(struct jail_fields *f);
/* A count that the remaining fields can hold, each entry taking `per`
 * fields: a message cannot announce more entries than it carries. */
size_t jail_get_count(struct jail_fields *f, size_t per);

#endif
