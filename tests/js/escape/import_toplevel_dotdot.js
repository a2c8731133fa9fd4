// exit: 1
// A static import that climbs above the top-level worker's folder is
// refused, however many dot segments it uses.
import x from "../../../../../../../../etc/passwd";
export default { fetch() { return new Response(String(x)); } };
