// exit: 1
// A JSON module with invalid JSON: the startup error must name the module (and position).
import j from "./modules/bad.json";
export default { fetch() { return Response.json(j); } };
