// exit: 1
// A file: URL is not a module name for the top-level worker either.
import x from "file:///etc/passwd";
export default { fetch() { return new Response(String(x)); } };
