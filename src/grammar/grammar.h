/* Grammars for constrained decoding (ARCHITECTURE.md §8): a GBNF grammar as llama.cpp
 * accepts it, parsed into rules over bytes, and a matcher that follows the bytes of a
 * generated text through it.
 *
 * GBNF: `name ::= alternatives` rules (a newline ends a rule outside parentheses; `#`
 * comments), `|` alternation, `( )` groups, `*` `+` `?` `{m}` `{m,}` `{m,n}`, "literals"
 * and [classes] (ranges, `^` negation) with the escapes \n \r \t \\ \" \[ \] \- \xHH
 * \uHHHH \UHHHHHHHH, `.` for any character, and a rule named `root` where matching starts.
 * Text is UTF-8: a class or `.` matches whole UTF-8 characters (surrogates excluded), which
 * the parser spells out as byte sequences, so the matcher sees bytes only and a token's
 * bytes may end inside a character.
 *
 * This library is a leaf: it sees token bytes, never the engine or a tokenizer. */
#ifndef KVSPILL_GRAMMAR_GRAMMAR_H
#define KVSPILL_GRAMMAR_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GRAMMAR_MUST_CHECK __attribute__((warn_unused_result))

typedef struct grammar_error {
    char msg[320];
} grammar_error;

/* Sets err (when not NULL) and returns -1. */
int grammar_fail(grammar_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct grammar grammar;

/* Parses GBNF text. Errors name the line and column and the cause: a syntax error, a rule
 * used but not defined, no `root`, left recursion, a root that matches no string. */
int grammar_parse(const char *text, size_t len, grammar **out,
                  grammar_error *err) GRAMMAR_MUST_CHECK;
void grammar_free(grammar *g);
size_t grammar_n_rules(const grammar *g);

/* Follows a text through a grammar: the set of parse stacks that the bytes so far leave
 * (hash-consed, so equal stacks are one), with the sets and steps between them memoized. */
typedef struct grammar_matcher grammar_matcher;

/* The matcher borrows g, which must outlive it. */
int grammar_matcher_create(const grammar *g, grammar_matcher **out,
                           grammar_error *err) GRAMMAR_MUST_CHECK;
void grammar_matcher_destroy(grammar_matcher *m);
/* Consumes bytes: 0 when the grammar accepts them after what came before (the state moves
 * on), 1 when it does not (the state is unchanged), -1 with err on a resource limit. */
int grammar_matcher_accept(grammar_matcher *m, const void *bytes, size_t n,
                           grammar_error *err) GRAMMAR_MUST_CHECK;
/* The text so far is a whole sentence of the grammar. */
bool grammar_matcher_complete(const grammar_matcher *m);
/* Some byte can follow the text so far. */
bool grammar_matcher_can_continue(const grammar_matcher *m);

/* A vocabulary as a trie of the tokens' bytes, built once per model. Tokens with no bytes
 * (control tokens) are left out: the grammar never allows them. */
typedef struct token_trie token_trie;

int token_trie_build(const char *const *bytes, const size_t *lens, uint32_t n_tokens,
                     token_trie **out, grammar_error *err) GRAMMAR_MUST_CHECK;
void token_trie_free(token_trie *t);
uint32_t token_trie_n_tokens(const token_trie *t);

/* Sets bit i of allowed (token_trie_n_tokens bits, as 64-bit words) for every token whose
 * bytes the grammar accepts next, clears the others. The masks of the states seen are
 * cached in the matcher. -1 with err on a resource limit. */
int grammar_matcher_mask(grammar_matcher *m, const token_trie *t, uint64_t *allowed,
                         grammar_error *err) GRAMMAR_MUST_CHECK;

#endif
