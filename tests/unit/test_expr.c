/*
 * test_expr.c: index expressions (libq/expr.c).
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "expr.h"

static int64_t eval_ok(const char *s)
{
	int64_t v = 0;
	cr_assert_eq(q__expr_eval(s, &v), 0, "'%s' refused", s);
	return v;
}

static void eval_bad(const char *s)
{
	int64_t v = 12345;
	cr_assert_eq(q__expr_eval(s, &v), -1, "'%s' accepted as %lld", s,
		     (long long)v);
	cr_assert_eq(v, 12345, "'%s' changed the output", s);
}

Test(expr, arithmetic_and_precedence)
{
	cr_assert_eq(eval_ok("7"), 7);
	cr_assert_eq(eval_ok("3*10+9"), 39);
	cr_assert_eq(eval_ok("3 * (10 + 9)"), 57);
	cr_assert_eq(eval_ok("-4+10"), 6);
	cr_assert_eq(eval_ok("10-2-3"), 5);
	cr_assert_eq(eval_ok("17/5"), 3);
	cr_assert_eq(eval_ok("17%5"), 2);
	cr_assert_eq(eval_ok("-(2*3)"), -6);
	cr_assert_eq(eval_ok("--5"), 5);
	cr_assert_eq(eval_ok("9223372036854775807"), INT64_MAX);
}

Test(expr, errors)
{
	const char *bad[] = { "", " ", "1+", "*2", "(1", "1)", "1 2", "a",
			      "1/0", "5%0", "9223372036854775808",
			      "9223372036854775807+1", "4611686018427387904*2",
			      "{i}", "1..2", "1.5" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		eval_bad(bad[i]);
}

Test(expr, nesting_is_bounded)
{
	char deep[200] = "";
	for (int i = 0; i < 40; i++)
		strcat(deep, "(");
	strcat(deep, "1");
	for (int i = 0; i < 40; i++)
		strcat(deep, ")");
	eval_bad(deep);
	cr_assert_eq(eval_ok("((((((((((1))))))))))"), 1);
}
