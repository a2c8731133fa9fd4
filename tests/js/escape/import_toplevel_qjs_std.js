// exit: 1
// QuickJS's own std module (file I/O, getenv, popen) is not importable.
import * as std from "qjs:std";
export default { fetch() { return new Response(String(std.getenv("HOME"))); } };
