/*
 * test_stepname.c — steps from names (io/stepname.h): every step-like form
 * of the README gives its number; names whose digits are not a step
 * (KERAS_3layer_weights, gpt2-base, llama2, v2) give none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io/stepname.h"

static void step_like_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t step;
    } cases[] = {
        {"step_500", 500},          {"step-500", 500},
        {"step500", 500},           {"STEP_7", 7},
        {"checkpoint-1500", 1500},  {"checkpoint_20", 20},
        {"ckpt_3", 3},              {"iter_20", 20},
        {"iteration-9", 9},         {"epoch_4", 4},
        {"epoch-04", 4},            {"global_step100", 100},
        {"global_step 100", 100},   {"run.step_0100.final", 100},
        {"state_dict_step_000100", 100}, {"model_step_5_ema", 5},
        {"500", 500},               {"000", 0},
        {"weights.07", 7},          {"weights.100", 100},
        {"model_0100", 100},        {"checkpoint_dict_000100", 100},
        {"step_1_then_step_2", 2},  {"epoch_3-step_40", 40},
        {"9007199254740992", 9007199254740992LL}, /* 2^53 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = rw_step_from_name(cases[i].name);
        if (got != cases[i].step)
            print_error("%s: %lld, expected %lld\n", cases[i].name, (long long)got,
                        (long long)cases[i].step);
        assert_int_equal(got, cases[i].step);
    }
}

static void names_without_a_step(void **state)
{
    (void)state;
    static const char *const none[] = {
        "KERAS_3layer_weights", "gpt2-base", "llama2",     "run_v2",     "model",
        "adapter_model",        "pytorch_model", "step",   "step_",      "steps_100k",
        "step_3layer",          "mystep_100x", "latest",   "",           "2x",
        "9007199254740993",     "step_99999999999999999999", "bert-base-uncased",
        "_5", "v_",
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        int64_t got = rw_step_from_name(none[i]);
        if (got != -1)
            print_error("'%s': %lld, expected none\n", none[i], (long long)got);
        assert_int_equal(got, -1);
    }
}

static void epoch_names(void **state)
{
    (void)state;
    assert_true(rw_step_name_is_epoch("epoch_4"));
    assert_true(rw_step_name_is_epoch("EPOCH-04"));
    assert_true(rw_step_name_is_epoch("model.epoch_12.weights"));
    assert_false(rw_step_name_is_epoch("epoch_3-step_40")); /* the step is 40 */
    assert_false(rw_step_name_is_epoch("step_500"));
    assert_false(rw_step_name_is_epoch("weights.07")); /* no keyword */
    assert_false(rw_step_name_is_epoch("epochs"));
    assert_false(rw_step_name_is_epoch("epoch"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(step_like_names),
        cmocka_unit_test(names_without_a_step),
        cmocka_unit_test(epoch_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
