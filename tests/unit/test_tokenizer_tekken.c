/* A tekken vocabulary (tokenizer.ggml.pre = "tekken") with Mistral's control tokens: the
 * control tokens are matched whole in text with parse_special and never split, their
 * fragments without it are plain text, and the text between them goes through the tekken
 * pre-tokenizer (pieces are never merged across its boundaries). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "testutil.h"
#include "tools/gguf_writer.h"

static const char *const controls[] = {"<s>", "</s>", "[INST]", "[/INST]", "[SYSTEM_PROMPT]",
                                       "[/SYSTEM_PROMPT]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]",
                                       "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"};
#define N_CONTROLS (sizeof controls / sizeof controls[0])
#define N_BYTES 94 /* the printable ASCII bytes '!'..'~', plus 'Ġ' (space) below */

static tokenizer *tekken_tokenizer(void)
{
    /* ids: controls, then the byte characters, then merges "H T" "HT M" "a r" */
    const char *toks[N_CONTROLS + N_BYTES + 1 + 3];
    char bytes[N_BYTES][2];
    int32_t types[sizeof toks / sizeof toks[0]];
    size_t n = 0;
    for (size_t i = 0; i < N_CONTROLS; i++, n++) {
        toks[n] = controls[i];
        types[n] = TOKEN_CONTROL;
    }
    for (int b = 0; b < N_BYTES; b++, n++) {
        bytes[b][0] = (char)('!' + b);
        bytes[b][1] = '\0';
        toks[n] = bytes[b];
        types[n] = TOKEN_NORMAL;
    }
    toks[n] = "\xC4\xA0"; /* GPT-2's character for the space byte */
    types[n++] = TOKEN_NORMAL;
    const char *merged[] = {"HT", "HTM", "ar"}, *merges[] = {"H T", "HT M", "a r"};
    for (size_t i = 0; i < 3; i++, n++) {
        toks[n] = merged[i];
        types[n] = TOKEN_NORMAL;
    }
    gguf_writer *w = gguf_writer_new();
    model_error err;
    char path[] = "/tmp/kvspill-tekken-XXXXXX";
    int fd = mkstemp(path);
    assert_true(w && fd >= 0);
    close(fd);
    assert_int_equal(gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2") ||
                     gguf_writer_set_str(w, "tokenizer.ggml.pre", "tekken") ||
                     gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, n) ||
                     gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, n) ||
                     gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 3) ||
                     gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 0) ||
                     gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 1) ||
                     gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true),
                     0);
    assert_int_equal(gguf_writer_write(w, path, &err), 0);
    gguf_writer_free(w);
    gguf_file *gf;
    tokenizer *tk;
    assert_int_equal(gguf_open(path, &gf, &err), 0);
    assert_int_equal(tokenizer_load(gf, &tk, &err), 0);
    gguf_close(gf);
    unlink(path);
    return tk;
}

static int32_t id_of(const tokenizer *tk, const char *text)
{
    int32_t id = tokenizer_find(tk, text, strlen(text));
    assert_true(id >= 0);
    return id;
}

static void test_controls_whole(void **state)
{
    tokenizer *tk = tekken_tokenizer();
    assert_string_equal(tokenizer_pre_name(tk), "tekken");
    const char *text = "[SYSTEM_PROMPT]ar[/SYSTEM_PROMPT][INST]HTM[/INST][TOOL_CALLS]";
    token_ids ids = {0};
    model_error err;
    assert_int_equal(tokenizer_encode(tk, text, strlen(text), true, true, &ids, &err), 0);
    int32_t want[] = {0, id_of(tk, "[SYSTEM_PROMPT]"), id_of(tk, "ar"), id_of(tk, "[/SYSTEM_PROMPT]"),
                      id_of(tk, "[INST]"), id_of(tk, "HTM"), id_of(tk, "[/INST]"),
                      id_of(tk, "[TOOL_CALLS]")};
    assert_int_equal(ids.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < ids.n; i++)
        assert_int_equal(ids.ids[i], want[i]);
    /* without parse_special the control texts are characters: "[INST]" is 6 tokens */
    ids.n = 0;
    assert_int_equal(tokenizer_encode(tk, "[INST]", 6, false, false, &ids, &err), 0);
    assert_int_equal(ids.n, 6);
    assert_int_equal(ids.ids[0], id_of(tk, "["));
    /* a control text that is incomplete stays text */
    ids.n = 0;
    assert_int_equal(tokenizer_encode(tk, "[INST", 5, false, true, &ids, &err), 0);
    assert_int_equal(ids.n, 5);
    token_ids_free(&ids);
    tokenizer_free(tk);
}

static void test_tekken_pieces_bound_merges(void **state)
{
    tokenizer *tk = tekken_tokenizer();
    token_ids ids = {0};
    model_error err;
    /* "HTMar": one tekken piece (upper run, then lower), so H T M merge and a r merge */
    assert_int_equal(tokenizer_encode(tk, "HTMar", 5, false, true, &ids, &err), 0);
    assert_int_equal(ids.n, 2);
    assert_int_equal(ids.ids[0], id_of(tk, "HTM"));
    assert_int_equal(ids.ids[1], id_of(tk, "ar"));
    /* digits are pieces of one: no merge of "a" and "r" across the "1" */
    ids.n = 0;
    assert_int_equal(tokenizer_encode(tk, "a1r", 3, false, true, &ids, &err), 0);
    assert_int_equal(ids.n, 3);
    token_ids_free(&ids);
    tokenizer_free(tk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_controls_whole),
        cmocka_unit_test(test_tekken_pieces_bound_merges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
