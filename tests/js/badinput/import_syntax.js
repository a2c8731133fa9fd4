// exit: 1
// A syntax error in an imported (not the main) module fails startup with a
// message naming that module, its line and column.
import { fine } from "./modules/broken.js";
export default { fetch() { return new Response(String(fine)); } };
