// exit: 1
// The top-level worker's module map is its folder: an absolute path is not
// a module name, and nothing is read from the host.
import passwd from "/etc/passwd";
export default { fetch() { return new Response(String(passwd)); } };
