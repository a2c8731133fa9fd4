// args: --call field --entrypoint Api
// exit: 1
// Instance fields and non-function properties are not RPC methods.
import { WorkerEntrypoint } from "cloudflare:workers";
export class Api extends WorkerEntrypoint { field = () => "leaked"; hello() { return "hi"; } }
export default { hello() { return "hi"; } };
