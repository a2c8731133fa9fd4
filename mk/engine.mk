# lib/engine: one QuickJS runtime per sandbox, values to wire and back,
# stubs, modules, and the built-in JavaScript (js/).
LIB_SRCS += lib/engine/workercode.c lib/engine/sandbox.c lib/engine/value.c lib/engine/stub.c \
            lib/engine/modules.c lib/engine/rpc.c lib/engine/natives.c lib/engine/code_js.c
# The web globals are several classic scripts that must run in this order;
# they are joined into one bytecode blob so a sandbox reads them in one go.
WEB_PARTS := js/web/base.js js/web/events.js js/web/encoding.js js/web/console.js \
             js/web/url.js js/web/fetch.js js/web.js
JS_BUNDLES += web runtime
