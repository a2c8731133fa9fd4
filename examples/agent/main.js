// A parent worker that runs model-written code in a fresh sandbox. The
// child can reach nothing but the one narrow capability it is lent: a
// chat room scoped (through props) to one room, served by the parent's own
// ChatRoom entrypoint. It has no network (globalOutbound: null).
import { WorkerEntrypoint } from "cloudflare:workers";

const rooms = new Map();

export class ChatRoom extends WorkerEntrypoint {
  async post(text) {
    const room = this.ctx.props.room;
    if (!rooms.has(room)) rooms.set(room, []);
    rooms.get(room).push(`${this.ctx.props.user}: ${text}`);
    return rooms.get(room).length;
  }
  async history() {
    return rooms.get(this.ctx.props.room) ?? [];
  }
}

// What a model might have written against the ChatRoom API.
const modelCode = `
export default {
  async run(task, env) {
    await env.ROOM.post("hello from the sandbox");
    await env.ROOM.post("task was: " + task);
    let blocked;
    try { await fetch("https://example.com/"); } catch (e) { blocked = e.message; }
    return { history: await env.ROOM.history(), blocked };
  }
};`;

export default {
  async fetch(request, env, ctx) {
    const worker = env.LOADER.load({
      compatibilityDate: "2025-06-01",
      mainModule: "agent.js",
      modules: { "agent.js": modelCode },
      env: { ROOM: ctx.exports.ChatRoom({ props: { room: "lobby", user: "agent" } }) },
      globalOutbound: null,
    });
    const out = await worker.getEntrypoint().run("summarise the lobby");
    return Response.json(out);
  },
};
