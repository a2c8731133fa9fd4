# lib/engine: one QuickJS runtime per sandbox, values to wire and back,
# stubs, modules, and the built-in JavaScript (js/).
LIB_SRCS += lib/engine/workercode.c lib/engine/sandbox.c lib/engine/heap.c lib/engine/value.c lib/engine/stub.c \
            lib/engine/modules.c lib/engine/rpc.c lib/engine/natives.c lib/engine/code_js.c lib/engine/escape.c lib/engine/parse.c \
            lib/engine/lazy.c lib/engine/modcache.c
# Each part of the web globals is its own bytecode blob (corral_js_web_PART):
# a sandbox reads a part only when its code first touches one of the part's
# globals (lib/engine/lazy.c), so most workers never pay for most of them.
WEB_PARTS := base events encoding console url fetch
JS_BUNDLES += $(addprefix web_,$(WEB_PARTS)) runtime
TEST_SRCS += tests/engine/test_heap.c tests/engine/test_turn_clock.c tests/engine/test_modcache.c \
             tests/engine/test_parse.c
