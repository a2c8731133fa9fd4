// exit: 1
// A top-level throw is a startup error, not an unhandled rejection: stderr holds only the error.
const fs = require("fs");
export default { fetch() { return new Response("x"); } };
