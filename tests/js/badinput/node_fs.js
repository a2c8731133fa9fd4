// exit: 1
// Importing a Node.js built-in fails at startup with a clear message.
import fs from "node:fs";
export default { fetch() { return new Response(typeof fs); } };
