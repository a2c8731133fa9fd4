export default { async fetch() { Promise.reject(new Error("nobody listens")); return new Response("fine"); } };
