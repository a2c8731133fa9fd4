/* normalize.c — turning whatever a model wrote into one async arrow function.
 *
 * Models send `async () => {...}`, but also bare statements, a trailing
 * expression they expect to be returned, `export default ...`, a named
 * function, or any of those inside a markdown fence. normalizeCode (§2.4)
 * maps all of them to an arrow function the executor can call. The reference
 * decides with a full JavaScript parser (acorn); we split the work:
 *
 *  - "does this parse as a module at all" is asked of the caller through a
 *    cm_parse_fn (the executor compiles with QuickJS, compile-only), so
 *    grammar errors are judged by a real engine;
 *  - the shape questions the algorithm needs — how many top-level
 *    statements, is the only one an arrow function / `export default` / a
 *    function declaration, is the last one an expression statement and where
 *    does its expression start and end — are answered here by a tokenizer and
 *    a top-level statement splitter. Only code that already parses reaches
 *    them, so they can assume valid syntax and need to be exact only about
 *    statement boundaries.
 *
 * The tokenizer handles comments, strings, template literals with nested
 * `${}` (a brace stack tells a substitution's closing `}` from a block's),
 * regular expressions versus division (decided by the previous token, with
 * control-statement parentheses and block braces remembered), numbers,
 * punctuators and identifiers including escapes and non-ASCII letters. The
 * splitter knows the statement forms (blocks, declarations, if/for/while/do/
 * try/switch/labels, import/export) and automatic semicolon insertion: a
 * line break ends a statement when the next token cannot continue it, with
 * the restricted productions (`return`, `break`, `continue`, postfix
 * `++`/`--`) and block-bodied arrow functions handled specially.
 */
#include "codemode/codemode.h"

#include <stdlib.h>
#include <string.h>

enum tok_type {
    T_EOF, T_IDENT, T_PRIVATE, T_NUM, T_STR, T_REGEX,
    T_TPL_NOSUB, T_TPL_HEAD, T_TPL_MID, T_TPL_TAIL, T_PUNCT,
};

typedef struct tok {
    enum tok_type type;
    size_t start, end;    /* byte range in the source */
    unsigned nl : 1;      /* a line terminator precedes this token */
    unsigned prop : 1;    /* identifier after `.`/`?.`: a property name */
    unsigned escaped : 1; /* identifier spelled with \u escapes: never a keyword */
    unsigned ctrl : 1;    /* `)` closing an if/while/for/with head */
    unsigned block : 1;   /* `}` closing a statement-like brace */
    size_t match;         /* for openers and closers: the partner token */
} tok;

typedef struct lexer {
    const char *s;
    size_t len, pos;
    tok *t;
    size_t n, cap;
    /* Open brackets, innermost last: '(' '[' '{' (statement brace),
     * 'o' (expression brace), 'T' (template substitution); with the index of
     * the token that opened each, and for parens whether it is a control
     * head. */
    char *stk;
    size_t *stk_tok;
    unsigned char *stk_ctrl;
    size_t nstk, capstk;
    /* A function or class in expression position: its body brace, opened
     * at this stack depth, is an expression brace (a `/` after it divides). */
    size_t expr_body_depth;
    int expr_body_pending;
    int err;
} lexer;

/* ---- tokenizer ------------------------------------------------------------ */

static int lx_push_tok(lexer *L, enum tok_type type, size_t start, size_t end, int nl) {
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        tok *t = realloc(L->t, cap * sizeof *t);
        if (!t) { L->err = 1; return 0; }
        L->t = t;
        L->cap = cap;
    }
    tok *k = &L->t[L->n++];
    memset(k, 0, sizeof *k);
    k->type = type;
    k->start = start;
    k->end = end;
    k->nl = nl ? 1 : 0;
    k->match = (size_t)-1;
    return 1;
}

static int lx_open(lexer *L, char kind, int ctrl) {
    if (L->nstk == L->capstk) {
        size_t cap = L->capstk ? L->capstk * 2 : 64;
        char *s = realloc(L->stk, cap);
        if (s) L->stk = s;
        size_t *st = realloc(L->stk_tok, cap * sizeof *st);
        if (st) L->stk_tok = st;
        unsigned char *sc = realloc(L->stk_ctrl, cap);
        if (sc) L->stk_ctrl = sc;
        if (!s || !st || !sc) { L->err = 1; return 0; }
        L->capstk = cap;
    }
    L->stk[L->nstk] = kind;
    L->stk_tok[L->nstk] = L->n - 1;
    L->stk_ctrl[L->nstk] = (unsigned char)ctrl;
    L->nstk++;
    return 1;
}

/* Pairs the just-pushed closer with the innermost opener of kind `want`
 * (one of the chars in `want`); a mismatch is a syntax error. */
static void lx_close(lexer *L, const char *want) {
    if (!L->nstk || !strchr(want, L->stk[L->nstk - 1])) { L->err = 1; return; }
    L->nstk--;
    size_t o = L->stk_tok[L->nstk], c = L->n - 1;
    L->t[o].match = c;
    L->t[c].match = o;
    if (L->stk[L->nstk] == '(') L->t[c].ctrl = L->stk_ctrl[L->nstk];
    if (L->stk[L->nstk] == '{') L->t[c].block = 1;
}

static int tok_is(const lexer *L, const tok *k, const char *text) {
    size_t n = strlen(text);
    return k->end - k->start == n && memcmp(L->s + k->start, text, n) == 0;
}

static int is_punct(const lexer *L, const tok *k, const char *text) {
    return k->type == T_PUNCT && tok_is(L, k, text);
}

/* An identifier token spelling exactly `kw` (never a property name or an
 * escaped spelling, which cannot be keywords). */
static int is_kw(const lexer *L, const tok *k, const char *kw) {
    return k->type == T_IDENT && !k->prop && !k->escaped && tok_is(L, k, kw);
}

static int is_any_kw(const lexer *L, const tok *k, const char *const *list) {
    for (; *list; list++)
        if (is_kw(L, k, *list)) return 1;
    return 0;
}

/* Keywords after which an expression (so a regex, an object literal) starts. */
static const char *const kw_expr_before[] = {
    "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw",
    "case", "do", "else", "yield", "await", "extends", NULL,
};

static int regex_allowed(const lexer *L) {
    if (L->n == 0) return 1;
    const tok *p = &L->t[L->n - 1];
    switch (p->type) {
    case T_IDENT:
        return is_any_kw(L, p, kw_expr_before);
    case T_PUNCT:
        if (is_punct(L, p, ")")) return p->ctrl;
        if (is_punct(L, p, "]")) return 0;
        if (is_punct(L, p, "}")) return p->block;
        if (is_punct(L, p, "++") || is_punct(L, p, "--")) return 0;
        return 1;
    case T_TPL_HEAD: case T_TPL_MID:
        return 1;
    default:
        return 0;
    }
}

/* Whether a `{` here opens a statement-like brace (block, function or class
 * body) rather than an object literal; only used to read a `/` after the
 * matching `}`. */
static int brace_is_block(const lexer *L) {
    if (L->n < 2) return 1;
    const tok *p = &L->t[L->n - 2];
    if (p->type == T_PUNCT)
        return is_punct(L, p, ")") || is_punct(L, p, ";") || is_punct(L, p, "}") ||
               is_punct(L, p, "{") || is_punct(L, p, "=>");
    if (p->type == T_IDENT) return !is_any_kw(L, p, kw_expr_before);
    return 0;
}

static int is_line_term(unsigned cp) { return cp == '\n' || cp == '\r' || cp == 0x2028 || cp == 0x2029; }

static int ident_start_cp(unsigned cp) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '$' || cp == '_' ||
           cp == '\\' || (cp >= 0x80 && !cm_js_is_space(cp));
}

static int ident_part_cp(unsigned cp) { return ident_start_cp(cp) || (cp >= '0' && cp <= '9'); }

static unsigned peek_cp(const lexer *L, size_t at, size_t *next) {
    size_t i = at;
    unsigned cp = cm_utf8_next(L->s, L->len, &i);
    if (next) *next = i;
    return cp;
}

/* Skips whitespace and comments; returns 1 if a line terminator was seen. */
static int lx_skip_space(lexer *L) {
    int nl = 0;
    if (L->pos == 0 && L->len >= 2 && L->s[0] == '#' && L->s[1] == '!') { /* hashbang */
        while (L->pos < L->len && !is_line_term(peek_cp(L, L->pos, NULL))) L->pos++;
    }
    while (L->pos < L->len) {
        size_t next;
        unsigned cp = peek_cp(L, L->pos, &next);
        if (is_line_term(cp)) { nl = 1; L->pos = next; continue; }
        if (cm_js_is_space(cp)) { L->pos = next; continue; }
        if (cp == '/' && L->pos + 1 < L->len && L->s[L->pos + 1] == '/') {
            while (L->pos < L->len) {
                size_t n2;
                if (is_line_term(peek_cp(L, L->pos, &n2))) break;
                L->pos = n2;
            }
            continue;
        }
        if (cp == '/' && L->pos + 1 < L->len && L->s[L->pos + 1] == '*') {
            size_t i = L->pos + 2;
            for (;;) {
                if (i + 1 >= L->len) { L->err = 1; return nl; } /* unterminated */
                if (L->s[i] == '*' && L->s[i + 1] == '/') break;
                size_t n2;
                if (is_line_term(peek_cp(L, i, &n2))) nl = 1;
                i = n2;
            }
            L->pos = i + 2;
            continue;
        }
        break;
    }
    return nl;
}

static void lx_ident(lexer *L, int nl, enum tok_type type) {
    size_t start = L->pos, next;
    int escaped = 0;
    if (type == T_PRIVATE) L->pos++;
    while (L->pos < L->len) {
        unsigned cp = peek_cp(L, L->pos, &next);
        if (cp == '\\') {
            /* \u and four hex digits, or \u{...} */
            escaped = 1;
            if (L->pos + 1 >= L->len || L->s[L->pos + 1] != 'u') { L->err = 1; return; }
            L->pos += 2;
            if (L->pos < L->len && L->s[L->pos] == '{') {
                while (L->pos < L->len && L->s[L->pos] != '}') L->pos++;
                if (L->pos >= L->len) { L->err = 1; return; }
                L->pos++;
            } else {
                L->pos += 4;
                if (L->pos > L->len) { L->err = 1; return; }
            }
            continue;
        }
        if (!ident_part_cp(cp)) break;
        L->pos = next;
    }
    if (L->pos == start + (type == T_PRIVATE)) { L->err = 1; return; }
    int prop = L->n > 0 && (is_punct(L, &L->t[L->n - 1], ".") || is_punct(L, &L->t[L->n - 1], "?."));
    if (!lx_push_tok(L, type, start, L->pos, nl)) return;
    tok *k = &L->t[L->n - 1];
    k->escaped = escaped ? 1 : 0;
    k->prop = prop ? 1 : 0;
    if (is_kw(L, k, "function") || is_kw(L, k, "class")) {
        /* Expression position: after an operator-like punctuator or an
         * expression keyword (looking past `async`). */
        size_t b = L->n - 1;
        if (b > 0 && is_kw(L, &L->t[b - 1], "async")) b--;
        int expr = 0;
        if (b > 0) {
            const tok *p = &L->t[b - 1];
            if (p->type == T_PUNCT)
                expr = !(is_punct(L, p, ";") || is_punct(L, p, "}") || is_punct(L, p, "{") || is_punct(L, p, ")"));
            else if (p->type == T_IDENT)
                expr = is_any_kw(L, p, kw_expr_before);
            else
                expr = p->type == T_TPL_HEAD || p->type == T_TPL_MID;
        }
        L->expr_body_pending = expr;
        L->expr_body_depth = L->nstk;
    }
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static void lx_number(lexer *L, int nl) {
    size_t start = L->pos;
    const char *s = L->s;
    if (s[L->pos] == '0' && L->pos + 1 < L->len && strchr("xXoObB", s[L->pos + 1]) && s[L->pos + 1]) {
        L->pos += 2;
        while (L->pos < L->len && (strchr("0123456789abcdefABCDEF_", s[L->pos]) && s[L->pos])) L->pos++;
    } else {
        while (L->pos < L->len && (is_digit(s[L->pos]) || s[L->pos] == '_')) L->pos++;
        if (L->pos < L->len && s[L->pos] == '.') {
            L->pos++;
            while (L->pos < L->len && (is_digit(s[L->pos]) || s[L->pos] == '_')) L->pos++;
        }
        if (L->pos < L->len && (s[L->pos] == 'e' || s[L->pos] == 'E')) {
            size_t p = L->pos + 1;
            if (p < L->len && (s[p] == '+' || s[p] == '-')) p++;
            if (p < L->len && is_digit(s[p])) {
                L->pos = p;
                while (L->pos < L->len && (is_digit(s[L->pos]) || s[L->pos] == '_')) L->pos++;
            }
        }
    }
    if (L->pos < L->len && s[L->pos] == 'n') L->pos++;
    lx_push_tok(L, T_NUM, start, L->pos, nl);
}

static void lx_string(lexer *L, int nl) {
    size_t start = L->pos;
    char q = L->s[L->pos++];
    while (L->pos < L->len) {
        char c = L->s[L->pos];
        if (c == q) { L->pos++; lx_push_tok(L, T_STR, start, L->pos, nl); return; }
        if (c == '\\') { L->pos += 2; continue; }
        if (c == '\n' || c == '\r') break;
        L->pos++;
    }
    L->err = 1;
}

/* Scans template characters from L->pos (just past "`" or the "}" closing a
 * substitution) to the next "`" or "${". `head` says whether this piece
 * started with a backtick. */
static void lx_template(lexer *L, size_t start, int nl, int head) {
    while (L->pos < L->len) {
        char c = L->s[L->pos];
        if (c == '\\') { L->pos += 2; continue; }
        if (c == '`') {
            L->pos++;
            if (!lx_push_tok(L, head ? T_TPL_NOSUB : T_TPL_TAIL, start, L->pos, nl)) return;
            if (!head) lx_close(L, "T");
            return;
        }
        if (c == '$' && L->pos + 1 < L->len && L->s[L->pos + 1] == '{') {
            L->pos += 2;
            if (head) {
                if (!lx_push_tok(L, T_TPL_HEAD, start, L->pos, nl)) return;
                lx_open(L, 'T', 0);
            } else {
                /* The middle piece stays inside the same template: the
                 * substitution stack entry is reused. */
                if (!lx_push_tok(L, T_TPL_MID, start, L->pos, nl)) return;
            }
            return;
        }
        L->pos++;
    }
    L->err = 1;
}

static void lx_regex(lexer *L, int nl) {
    size_t start = L->pos++;
    int in_class = 0;
    while (L->pos < L->len) {
        size_t next;
        unsigned cp = peek_cp(L, L->pos, &next);
        if (is_line_term(cp)) break;
        if (cp == '\\') {
            L->pos = next;
            if (L->pos < L->len && !is_line_term(peek_cp(L, L->pos, &next))) L->pos = next;
            continue;
        }
        if (cp == '[') in_class = 1;
        else if (cp == ']') in_class = 0;
        else if (cp == '/' && !in_class) {
            L->pos = next;
            while (L->pos < L->len && ident_part_cp(peek_cp(L, L->pos, &next))) L->pos = next;
            lx_push_tok(L, T_REGEX, start, L->pos, nl);
            return;
        }
        L->pos = next;
    }
    L->err = 1;
}

static const char *const puncts[] = {
    ">>>=", "...", "===", "!==", "**=", "<<=", ">>=", ">>>", "&&=", "||=", "?\?=",
    "=>", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "++", "--", "+=", "-=", "*=",
    "/=", "%=", "&=", "|=", "^=", "**", "<<", ">>",
    "{", "}", "(", ")", "[", "]", ";", ",", "<", ">", "+", "-", "*", "/", "%", "&", "|",
    "^", "!", "~", "?", ":", "=", ".", "@", NULL,
};

static void lx_punct(lexer *L, int nl) {
    const char *s = L->s + L->pos;
    size_t left = L->len - L->pos;
    for (const char *const *p = puncts; *p; p++) {
        size_t n = strlen(*p);
        if (n > left || memcmp(s, *p, n) != 0) continue;
        /* `a?.5:b` is a conditional, not optional chaining. */
        if (n == 2 && s[0] == '?' && s[1] == '.' && left > 2 && is_digit(s[2])) continue;
        /* A block-ish `{` is recorded before pushing so brace_is_block sees
         * the previous token at n-2 after the push. */
        if (!lx_push_tok(L, T_PUNCT, L->pos, L->pos + n, nl)) return;
        L->pos += n;
        char c = **p;
        if (n == 1 && c == '(') {
            int ctrl = 0;
            if (L->n >= 2) {
                static const char *const heads[] = {"if", "while", "for", "with", NULL};
                const tok *prev = &L->t[L->n - 2];
                ctrl = is_any_kw(L, prev, heads);
                /* for await ( */
                if (!ctrl && is_kw(L, prev, "await") && L->n >= 3 && is_kw(L, &L->t[L->n - 3], "for")) ctrl = 1;
            }
            lx_open(L, '(', ctrl);
        } else if (n == 1 && c == '[') {
            lx_open(L, '[', 0);
        } else if (n == 1 && c == '{') {
            int expr_body = L->expr_body_pending && L->expr_body_depth == L->nstk;
            if (expr_body) L->expr_body_pending = 0;
            lx_open(L, !expr_body && brace_is_block(L) ? '{' : 'o', 0);
        } else if (n == 1 && c == ')') {
            lx_close(L, "(");
        } else if (n == 1 && c == ']') {
            lx_close(L, "[");
        } else if (n == 1 && c == '}') {
            lx_close(L, "{o");
        }
        return;
    }
    L->err = 1;
}

static void lex(lexer *L) {
    while (!L->err) {
        int nl = lx_skip_space(L);
        if (L->err) return;
        if (L->pos >= L->len) {
            lx_push_tok(L, T_EOF, L->len, L->len, nl);
            if (L->nstk) L->err = 1; /* unclosed bracket or template */
            return;
        }
        char c = L->s[L->pos];
        unsigned cp = peek_cp(L, L->pos, NULL);
        if (c == '}' && L->nstk && L->stk[L->nstk - 1] == 'T') {
            size_t start = L->pos++;
            lx_template(L, start, nl, 0);
        } else if (c == '`') {
            size_t start = L->pos++;
            lx_template(L, start, nl, 1);
        } else if (ident_start_cp(cp)) {
            lx_ident(L, nl, T_IDENT);
        } else if (c == '#') {
            lx_ident(L, nl, T_PRIVATE);
        } else if (is_digit(c) || (c == '.' && L->pos + 1 < L->len && is_digit(L->s[L->pos + 1]))) {
            lx_number(L, nl);
        } else if (c == '"' || c == '\'') {
            lx_string(L, nl);
        } else if (c == '/' && regex_allowed(L)) {
            lx_regex(L, nl);
        } else {
            lx_punct(L, nl);
        }
    }
}

/* ---- top-level statement splitter ----------------------------------------- */

enum stmt_kind { S_EXPR, S_FUNC, S_EXPORT_DEFAULT, S_OTHER };
enum decl_kind { D_EXPR, D_FUNC, D_CLASS };

typedef struct stmt {
    enum stmt_kind kind;
    size_t first;                 /* first token */
    size_t e_first, e_last;       /* S_EXPR / D_EXPR: expression tokens, inclusive */
    size_t name;                  /* S_FUNC: the name token */
    enum decl_kind decl;          /* S_EXPORT_DEFAULT */
    size_t d_first, d_last;       /* S_EXPORT_DEFAULT: declaration tokens, inclusive */
    int anonymous;                /* S_EXPORT_DEFAULT function/class without a name */
} stmt;

typedef struct parser {
    lexer *L;
    int depth;
    int err;
} parser;

#define MAX_NESTING 500

static const tok *tk(const parser *P, size_t i) {
    return &P->L->t[i < P->L->n ? i : P->L->n - 1];
}

static int at_punct(const parser *P, size_t i, const char *p) { return is_punct(P->L, tk(P, i), p); }
static int at_kw(const parser *P, size_t i, const char *k) { return is_kw(P->L, tk(P, i), k); }

/* Index after the group opened at i (or i + 1 if i opens nothing). */
static size_t after_group(parser *P, size_t i) {
    const tok *t = tk(P, i);
    if (t->match == (size_t)-1 || t->match < i) { P->err = 1; return i + 1; }
    return t->match + 1;
}

static int is_opener(const parser *P, size_t i) {
    const tok *t = tk(P, i);
    return (t->type == T_PUNCT && (at_punct(P, i, "(") || at_punct(P, i, "[") || at_punct(P, i, "{"))) ||
           t->type == T_TPL_HEAD;
}

static int is_closer(const parser *P, size_t i) {
    const tok *t = tk(P, i);
    return (t->type == T_PUNCT && (at_punct(P, i, ")") || at_punct(P, i, "]") || at_punct(P, i, "}"))) ||
           t->type == T_TPL_MID || t->type == T_TPL_TAIL;
}

/* Keywords that cannot end an operand, so a line break after them never
 * ends the statement. */
static const char *const kw_no_operand[] = {
    "await", "break", "case", "catch", "class", "const", "continue", "debugger", "default",
    "delete", "do", "else", "export", "extends", "finally", "for", "function", "if", "import",
    "in", "instanceof", "let", "new", "return", "switch", "throw", "try", "typeof", "var",
    "void", "while", "with", "yield", NULL,
};

static int ends_operand(const parser *P, size_t a) {
    const tok *A = tk(P, a);
    switch (A->type) {
    case T_IDENT: return !is_any_kw(P->L, A, kw_no_operand);
    case T_PRIVATE: case T_NUM: case T_STR: case T_REGEX: case T_TPL_NOSUB: case T_TPL_TAIL:
        return 1;
    case T_PUNCT:
        if (at_punct(P, a, ")") || at_punct(P, a, "]") || at_punct(P, a, "}")) return 1;
        if ((at_punct(P, a, "++") || at_punct(P, a, "--")) && a > 0 && !A->nl)
            return ends_operand(P, a - 1) && !at_punct(P, a - 1, "++") && !at_punct(P, a - 1, "--");
        return 0;
    default:
        return 0;
    }
}

/* Punctuators that continue an expression across a line break. */
static const char *const continuing[] = {
    "(", "[", ".", "?.", "?", ",", ":", "=", "==", "===", "!=", "!==", "<", ">", "<=", ">=",
    "+", "-", "*", "/", "%", "**", "&", "|", "^", "&&", "||", "??", "<<", ">>", ">>>",
    "+=", "-=", "*=", "/=", "%=", "**=", "<<=", ">>=", ">>>=", "&=", "|=", "^=", "&&=",
    "||=", "?\?=", "=>", NULL,
};

/* Automatic semicolon insertion between token a and the next token b, which
 * is on a new line: 1 if the statement ends after a. */
static int asi_after(const parser *P, size_t a, size_t b) {
    if (!ends_operand(P, a)) return 0;
    const tok *A = tk(P, a), *B = tk(P, b);
    /* A block-bodied arrow function cannot be called, indexed or operated
     * on; only a comma or a conditional's `:` can follow it. */
    if (at_punct(P, a, "}") && A->match != (size_t)-1 && A->match > 0 && at_punct(P, A->match - 1, "=>"))
        return !(at_punct(P, b, ",") || at_punct(P, b, ":"));
    switch (B->type) {
    case T_PUNCT:
        for (const char *const *c = continuing; *c; c++)
            if (at_punct(P, b, *c)) return 0;
        return 1;
    case T_TPL_NOSUB: case T_TPL_HEAD:
        return 0; /* a tagged template */
    case T_IDENT:
        return !(is_kw(P->L, B, "in") || is_kw(P->L, B, "instanceof"));
    default:
        return 1;
    }
}

/* Skips an expression-like statement tail from i: up to and including a
 * `;`, or up to a closing bracket, the end, or a line break where a
 * semicolon would be inserted. Sets the expression's token range. */
static size_t skip_expr(parser *P, size_t i, size_t *e_first, size_t *e_last) {
    size_t j = i, last = (size_t)-1;
    for (;;) {
        const tok *t = tk(P, j);
        if (t->type == T_EOF || is_closer(P, j)) break;
        if (at_punct(P, j, ";")) { j++; break; }
        if (last != (size_t)-1 && asi_after(P, last, j)) {
            if (t->nl) break;
            /* Two operands side by side on one line are not JavaScript:
             * the engine should have refused the text, and we need not guess
             * a boundary. Only names, numbers and strings count as the
             * second operand (a `{` after `)` is a function body, `++` is
             * postfix); `async x`, `async function` and `extends` are
             * legitimate. */
            const tok *B = tk(P, j);
            int adjacent = B->type == T_NUM || B->type == T_STR || B->type == T_PRIVATE ||
                           (B->type == T_IDENT && !at_kw(P, j, "extends") && !at_kw(P, last, "async"));
            if (adjacent) { P->err = 1; break; }
        }
        if (is_opener(P, j)) {
            size_t after = after_group(P, j);
            if (P->err) return j + 1;
            last = after - 1;
            j = after;
        } else {
            last = j;
            j++;
        }
    }
    if (e_first) *e_first = i;
    if (e_last) *e_last = last;
    return j;
}

/* `function [*] [name] (...) {...}` from the `function` token. */
static size_t skip_function(parser *P, size_t i, size_t *name) {
    size_t j = i + 1;
    if (at_punct(P, j, "*")) j++;
    *name = (size_t)-1;
    if (tk(P, j)->type == T_IDENT) *name = j++;
    if (!at_punct(P, j, "(")) { P->err = 1; return j + 1; }
    j = after_group(P, j);
    if (!at_punct(P, j, "{")) { P->err = 1; return j + 1; }
    return after_group(P, j);
}

/* `class [name] [extends expr] {...}` from the `class` token. */
static size_t skip_class(parser *P, size_t i, int *anonymous) {
    size_t j = i + 1;
    *anonymous = 1;
    if (tk(P, j)->type == T_IDENT && !at_kw(P, j, "extends")) { *anonymous = 0; j++; }
    if (at_kw(P, j, "extends")) {
        j++;
        while (!at_punct(P, j, "{") && tk(P, j)->type != T_EOF) j = is_opener(P, j) ? after_group(P, j) : j + 1;
    }
    if (!at_punct(P, j, "{")) { P->err = 1; return j + 1; }
    return after_group(P, j);
}

static int starts_async_function(const parser *P, size_t i) {
    return at_kw(P, i, "async") && at_kw(P, i + 1, "function") && !tk(P, i + 1)->nl;
}

static size_t skip_statement(parser *P, size_t i, stmt *st);

/* The rest of an import declaration or an `export {...}` / `export *`
 * clause: bindings, the module specifier string (required for imports and
 * `export *`, optional after `export {...}`), an optional `with {...}`
 * attributes clause, an optional `;`. These end at the specifier whatever
 * follows on the next line, unlike an expression. */
static size_t skip_module_clause(parser *P, size_t j, int is_import) {
    int need_from = !is_import && at_punct(P, j, "*");
    while (tk(P, j)->type != T_EOF && tk(P, j)->type != T_STR) {
        if (at_punct(P, j, ";")) return j + 1;
        if (!is_import && !need_from && at_punct(P, j, "{")) {
            j = after_group(P, j);
            if (!at_kw(P, j, "from")) return at_punct(P, j, ";") ? j + 1 : j;
            continue;
        }
        j = is_opener(P, j) ? after_group(P, j) : j + 1;
    }
    if (tk(P, j)->type != T_STR) { P->err = 1; return j; }
    j++;
    if ((at_kw(P, j, "with") || (at_kw(P, j, "assert") && !tk(P, j)->nl)) && at_punct(P, j + 1, "{"))
        j = after_group(P, j + 1);
    return at_punct(P, j, ";") ? j + 1 : j;
}

static size_t skip_nested(parser *P, size_t i) {
    if (++P->depth > MAX_NESTING) { P->err = 1; return i + 1; }
    stmt tmp;
    size_t j = skip_statement(P, i, &tmp);
    P->depth--;
    return j;
}

static size_t skip_statement(parser *P, size_t i, stmt *st) {
    memset(st, 0, sizeof *st);
    st->kind = S_OTHER;
    st->first = i;
    size_t j;
    if (at_punct(P, i, ";")) return i + 1;
    if (at_punct(P, i, "{")) return after_group(P, i);
    if (at_kw(P, i, "var") || at_kw(P, i, "let") || at_kw(P, i, "const") || at_kw(P, i, "debugger"))
        return skip_expr(P, i + 1, NULL, NULL);
    if (at_kw(P, i, "function") || starts_async_function(P, i)) {
        st->kind = S_FUNC;
        return skip_function(P, at_kw(P, i, "async") ? i + 1 : i, &st->name);
    }
    if (at_kw(P, i, "class")) {
        int anon;
        return skip_class(P, i, &anon);
    }
    if (at_kw(P, i, "if")) {
        /* else-if chains loop instead of recursing */
        for (;;) {
            j = skip_nested(P, after_group(P, i + 1));
            if (!at_kw(P, j, "else")) return j;
            if (!at_kw(P, j + 1, "if")) return skip_nested(P, j + 1);
            i = j + 1;
            if (P->err) return j + 1;
        }
    }
    if (at_kw(P, i, "for")) {
        j = i + 1;
        if (at_kw(P, j, "await")) j++;
        return skip_nested(P, after_group(P, j));
    }
    if (at_kw(P, i, "while") || at_kw(P, i, "with"))
        return skip_nested(P, after_group(P, i + 1));
    if (at_kw(P, i, "do")) {
        j = skip_nested(P, i + 1);
        if (!at_kw(P, j, "while")) { P->err = 1; return j + 1; }
        j = after_group(P, j + 1);
        /* A semicolon is always inserted after do-while's `)`. */
        return at_punct(P, j, ";") ? j + 1 : j;
    }
    if (at_kw(P, i, "try")) {
        j = after_group(P, i + 1);
        if (at_kw(P, j, "catch")) {
            j++;
            if (at_punct(P, j, "(")) j = after_group(P, j);
            j = after_group(P, j);
        }
        if (at_kw(P, j, "finally")) j = after_group(P, j + 1);
        return j;
    }
    if (at_kw(P, i, "switch")) return after_group(P, after_group(P, i + 1));
    if (at_kw(P, i, "return") || at_kw(P, i, "throw") || at_kw(P, i, "break") || at_kw(P, i, "continue")) {
        if (tk(P, i + 1)->nl) return i + 1; /* restricted production */
        return skip_expr(P, i + 1, NULL, NULL);
    }
    if (at_kw(P, i, "import") && !at_punct(P, i + 1, "(") && !at_punct(P, i + 1, "."))
        return skip_module_clause(P, i + 1, 1);
    if (at_kw(P, i, "export")) {
        if (at_kw(P, i + 1, "default")) {
            size_t d = i + 2;
            st->kind = S_EXPORT_DEFAULT;
            st->d_first = d;
            if (at_kw(P, d, "function") || starts_async_function(P, d)) {
                size_t name;
                j = skip_function(P, at_kw(P, d, "async") ? d + 1 : d, &name);
                st->decl = D_FUNC;
                st->anonymous = name == (size_t)-1;
                st->d_last = j - 1;
                return j;
            }
            if (at_kw(P, d, "class")) {
                j = skip_class(P, d, &st->anonymous);
                st->decl = D_CLASS;
                st->d_last = j - 1;
                return j;
            }
            st->decl = D_EXPR;
            return skip_expr(P, d, &st->d_first, &st->d_last);
        }
        size_t name;
        int anon;
        if (at_kw(P, i + 1, "function") || starts_async_function(P, i + 1))
            return skip_function(P, at_kw(P, i + 1, "async") ? i + 2 : i + 1, &name);
        if (at_kw(P, i + 1, "class")) return skip_class(P, i + 1, &anon);
        if (at_punct(P, i + 1, "{") || at_punct(P, i + 1, "*")) return skip_module_clause(P, i + 1, 0);
        return skip_expr(P, i + 1, NULL, NULL);
    }
    if (tk(P, i)->type == T_IDENT && at_punct(P, i + 1, ":")) /* label */
        return skip_nested(P, i + 2);
    st->kind = S_EXPR;
    j = skip_expr(P, i, &st->e_first, &st->e_last);
    if (st->e_last == (size_t)-1) P->err = 1;
    return j;
}

/* Strips parentheses that wrap the whole expression, as acorn's node
 * ranges do. */
static void strip_parens(const parser *P, size_t *f, size_t *l) {
    while (*f < *l && at_punct(P, *f, "(") && tk(P, *f)->match == *l) {
        (*f)++;
        (*l)--;
    }
}

/* Is the expression [f, l] exactly one arrow function? */
static int is_arrow(parser *P, size_t f, size_t l) {
    size_t k = (size_t)-1;
    if (tk(P, f)->type == T_IDENT && at_punct(P, f + 1, "=>")) {
        k = f + 1;
    } else if (at_kw(P, f, "async") && !tk(P, f + 1)->nl && tk(P, f + 1)->type == T_IDENT &&
               at_punct(P, f + 2, "=>")) {
        k = f + 2;
    } else {
        size_t p = f;
        if (at_kw(P, p, "async") && at_punct(P, p + 1, "(") && !tk(P, p + 1)->nl) p++;
        if (at_punct(P, p, "(")) {
            size_t q = after_group(P, p);
            if (at_punct(P, q, "=>")) k = q;
        }
    }
    if (k == (size_t)-1 || k >= l) return 0;
    size_t b = k + 1;
    if (at_punct(P, b, "{")) return tk(P, b)->match == l;
    /* An expression body is an AssignmentExpression: only a top-level comma
     * can end it inside the statement. */
    for (size_t j = b; j <= l; j++) {
        if (is_opener(P, j)) j = after_group(P, j) - 1;
        else if (at_punct(P, j, ",")) return 0;
    }
    return 1;
}

/* ---- normalizeCode ----------------------------------------------------------- */

static char *dup_range(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *wrap3(const char *a, const char *mid, size_t mid_len, const char *b) {
    cm_buf out = {0};
    cm_buf_puts(&out, a);
    cm_buf_add(&out, mid, mid_len);
    cm_buf_puts(&out, b);
    return cm_buf_take(&out);
}

/* Step 1: strip one whole markdown fence (```, ```js, ```ts, ...). Sets the
 * body range and returns 1 when the text is fenced. */
static int strip_fence(const char *s, size_t len, size_t *b0, size_t *b1) {
    static const char *const langs[] = {"js", "javascript", "typescript", "ts", "tsx", "jsx", ""};
    if (len < 6 || memcmp(s, "```", 3) != 0 || memcmp(s + len - 3, "```", 3) != 0) return 0;
    for (size_t k = 0; k < sizeof langs / sizeof *langs; k++) {
        size_t ln = strlen(langs[k]);
        if (3 + ln > len || memcmp(s + 3, langs[k], ln) != 0) continue;
        /* `\s*\n`: the body starts after the last newline of the
         * whitespace run that follows the tag. */
        size_t i = 3 + ln, last_nl = (size_t)-1;
        while (i < len) {
            size_t at = i;
            unsigned cp = cm_utf8_next(s, len, &i);
            if (!cm_js_is_space(cp)) { i = at; break; }
            if (cp == '\n') last_nl = at;
        }
        if (last_nl == (size_t)-1 || last_nl + 1 > len - 3) continue;
        *b0 = last_nl + 1;
        *b1 = len - 3;
        return 1;
    }
    return 0;
}

static void free_lexer(lexer *L) {
    free(L->t);
    free(L->stk);
    free(L->stk_tok);
    free(L->stk_ctrl);
}

char *cm_normalize_code(const char *code, size_t len, cm_parse_fn parse, void *ud) {
    if (!code) { code = ""; len = 0; }
    size_t a, e;
    cm_js_trim(code, len, &a, &e);
    const char *t = code + a;
    size_t tl = e - a;
    size_t b0, b1;
    if (strip_fence(t, tl, &b0, &b1)) {
        t += b0;
        tl = b1 - b0;
    }
    cm_js_trim(t, tl, &a, &e);
    if (a == e) return dup_range("async () => {}", 14);
    const char *src = t + a;
    size_t n = e - a;

    lexer L = {0};
    L.s = src;
    L.len = n;
    lex(&L);
    if (L.err) {
        free_lexer(&L);
        return wrap3("async () => {\n", src, n, "\n}");
    }
    parser P = {&L, 0, 0};
    /* The usual program, one arrow function, is used as it is whether or
     * not it parses, so it needs no parse check: when it does not parse,
     * the reference wraps it in a function body, where the same text fails
     * the same way (the executor compiles both as module code). That saves
     * the host a full compile of most programs. */
    {
        stmt first;
        size_t j = tk(&P, 0)->type == T_EOF ? 0 : skip_statement(&P, 0, &first);
        if (j > 0 && !P.err && tk(&P, j)->type == T_EOF && first.kind == S_EXPR) {
            size_t f = first.e_first, l = first.e_last;
            strip_parens(&P, &f, &l);
            if (is_arrow(&P, f, l)) {
                free_lexer(&L);
                return dup_range(src, n);
            }
        }
        P = (parser){&L, 0, 0};
    }
    if (parse && !parse(ud, src, n)) {
        free_lexer(&L);
        return wrap3("async () => {\n", src, n, "\n}");
    }
    size_t cap = 16, count = 0;
    stmt *sts = malloc(cap * sizeof *sts);
    stmt last = {0};
    size_t i = 0;
    while (sts && !P.err && tk(&P, i)->type != T_EOF) {
        stmt st;
        size_t j = skip_statement(&P, i, &st);
        if (j <= i) j = i + 1;
        if (count == cap) {
            stmt *ns = realloc(sts, (cap *= 2) * sizeof *ns);
            if (!ns) { free(sts); sts = NULL; break; }
            sts = ns;
        }
        sts[count++] = st;
        last = st;
        i = j;
    }
    char *out = NULL;
    if (!sts) {
        free_lexer(&L);
        return NULL;
    }
    if (P.err) {
        out = wrap3("async () => {\n", src, n, "\n}");
    } else if (count == 1 && sts[0].kind == S_EXPR) {
        size_t f = sts[0].e_first, l = sts[0].e_last;
        strip_parens(&P, &f, &l);
        if (is_arrow(&P, f, l)) out = dup_range(src, n);
    } else if (count == 1 && sts[0].kind == S_EXPORT_DEFAULT) {
        size_t f = sts[0].d_first, l = sts[0].d_last;
        if (sts[0].decl == D_EXPR) strip_parens(&P, &f, &l);
        size_t s0 = tk(&P, f)->start, s1 = tk(&P, l)->end;
        if (sts[0].decl == D_FUNC && sts[0].anonymous)
            out = wrap3("async () => {\nreturn (", src + s0, s1 - s0, ")();\n}");
        else if (sts[0].decl == D_CLASS && sts[0].anonymous)
            out = wrap3("async () => {\nreturn (", src + s0, s1 - s0, ");\n}");
        else
            out = cm_normalize_code(src + s0, s1 - s0, parse, ud);
        free(sts);
        free_lexer(&L);
        return out;
    } else if (count == 1 && sts[0].kind == S_FUNC && sts[0].name != (size_t)-1) {
        const tok *nm = tk(&P, sts[0].name);
        cm_buf b = {0};
        cm_buf_puts(&b, "async () => {\n");
        cm_buf_add(&b, src, n);
        cm_buf_puts(&b, "\nreturn ");
        cm_buf_add(&b, src + nm->start, nm->end - nm->start);
        cm_buf_puts(&b, "();\n}");
        out = cm_buf_take(&b);
        free(sts);
        free_lexer(&L);
        return out;
    }
    if (!out && !P.err) {
        if (count > 0 && last.kind == S_EXPR) {
            size_t f = last.e_first, l = last.e_last;
            strip_parens(&P, &f, &l);
            size_t before = tk(&P, last.first)->start;
            size_t s0 = tk(&P, f)->start, s1 = tk(&P, l)->end;
            cm_buf b = {0};
            cm_buf_puts(&b, "async () => {\n");
            cm_buf_add(&b, src, before);
            cm_buf_puts(&b, "return (");
            cm_buf_add(&b, src + s0, s1 - s0);
            cm_buf_puts(&b, ")\n}");
            out = cm_buf_take(&b);
        } else {
            out = wrap3("async () => {\n", src, n, "\n}");
        }
    }
    free(sts);
    free_lexer(&L);
    return out;
}
