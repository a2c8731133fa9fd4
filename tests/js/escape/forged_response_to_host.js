// exit: 1
// The top-level worker hands the host an object that only passes for a
// Response (Symbol.hasInstance), with a header name holding CR LF: the host
// refuses it with a named error instead of writing out an injected header.
// A status outside 100-599, and CR, LF or NUL in a header value, the status
// text, the method or the URL are refused the same way (lib/loader/http_msg.c).
Object.defineProperty(Response, Symbol.hasInstance, { value: (v) => v && v.forged === 1 });
export default {
  fetch() {
    return { forged: 1, status: 200, statusText: "OK", headers: [["bad\r\nSet-Cookie", "x"]], arrayBuffer() { return new ArrayBuffer(1); } };
  },
};
