/*
 * test_svg.c - the report's bar charts: escaping, the value axis, "no data"
 * frames, grouped and stacked bars (count, heights, tooltips, legend),
 * missing values, label thinning and hostile strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "svg.h"

/* Render c into a string (owned by the caller). */
static char *render(const struct pd_svg_bars *c)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	pd_svg_bars(f, c);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static char *escaped(const char *s)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	pd_svg_escape(f, s);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_escape(void **state)
{
	(void)state;
	char *e = escaped("<b>\"Tom & Jerry's\"</b> не работает");
	assert_string_equal(e, "&lt;b&gt;&quot;Tom &amp; Jerry&#39;s&quot;&lt;/b&gt; не работает");
	free(e);
	e = escaped(NULL);
	assert_string_equal(e, "");
	free(e);
}

static void test_axis_max(void **state)
{
	(void)state;
	static const struct {
		double max, top, step;
	} cases[] = {
	    {0, 1, 1},      {-3, 1, 1},       {1, 1, 1},       {3, 3, 1},         {5, 5, 1},
	    {6, 6, 2},      {7, 8, 2},        {11, 15, 5},     {23, 25, 5},       {48, 50, 10},
	    {99, 100, 20},  {100, 100, 20},   {101, 125, 25},  {0.4, 1, 1},       {950, 1000, 200},
	    {1234, 1250, 250}, {60000, 60000, 20000},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double step = 0, top = pd_svg_axis_max(cases[i].max, &step);

		if (top != cases[i].top || step != cases[i].step)
			fail_msg("max %g: got top %g step %g, want %g %g", cases[i].max, top, step,
				 cases[i].top, cases[i].step);
		/* the top covers max in at most five steps of at least 1 */
		assert_true(top >= cases[i].max && step >= 1 && top / step <= 5);
	}
}

static void test_no_data(void **state)
{
	(void)state;
	static const char *const cats[] = {"a", "b"};
	double zero[] = {0, 0}, missing[] = {-1, -1};
	struct pd_svg_series s = {"tickets", "#123456", zero};
	struct pd_svg_bars c = {.title = "Empty", .categories = cats, .n_categories = 2,
				.series = &s, .n_series = 1};

	/* all zero counts: nothing to draw */
	assert_false(pd_svg_has_data(&c));
	char *svg = render(&c);
	assert_non_null(strstr(svg, "<svg class=\"chart\""));
	assert_non_null(strstr(svg, ">no data</text>"));
	assert_non_null(strstr(svg, ">Empty</text>"));
	assert_int_equal(count(svg, "class=\"bar\""), 0);
	assert_true(count(svg, "<rect") >= 2); /* frame and the dashed plot area */
	assert_non_null(strstr(svg, "</svg>"));
	free(svg);

	/* no categories at all */
	c.n_categories = 0;
	svg = render(&c);
	assert_non_null(strstr(svg, ">no data</text>"));
	free(svg);

	/* 0 % on a fixed axis is a result, missing values are not */
	c.n_categories = 2;
	c.y_max = 100;
	assert_true(pd_svg_has_data(&c));
	s.values = missing;
	assert_false(pd_svg_has_data(&c));
}

static void test_grouped(void **state)
{
	(void)state;
	static const char *const cats[] = {"critical", "high", "normal", "low"};
	double fr[] = {50, -1, 100, 0}, res[] = {25.5, -1, 0, -1};
	struct pd_svg_series s[] = {{"first response", "#2E86C1", fr}, {"resolution", "#27AE60", res}};
	struct pd_svg_bars c = {.title = "SLA by priority", .y_label = "% met",
				.categories = cats, .n_categories = 4, .series = s, .n_series = 2,
				.y_max = 100, .suffix = "%", .width = 400, .height = 200};
	char *svg = render(&c);

	/* one bar per present value, 0 % as a hairline */
	assert_int_equal(count(svg, "class=\"bar\""), 5);
	assert_non_null(strstr(svg, "<title>critical, first response: 50%</title>"));
	assert_non_null(strstr(svg, "<title>critical, resolution: 25.5%</title>"));
	assert_non_null(strstr(svg, "<title>normal, resolution: 0%</title>"));
	assert_null(strstr(svg, "high, first response"));
	/* axis 0..100 in quarters, the legend names both series */
	assert_non_null(strstr(svg, ">100%</text>"));
	assert_non_null(strstr(svg, ">75%</text>"));
	assert_non_null(strstr(svg, ">first response</text>"));
	assert_non_null(strstr(svg, ">resolution</text>"));
	assert_non_null(strstr(svg, ">% met</text>"));
	assert_non_null(strstr(svg, "width=\"400\" height=\"200\""));
	/* the 100 % bar fills the plot: top 62, bottom 200 - 30 */
	assert_non_null(strstr(svg, "y=\"62.0\" width=\"29.5\" height=\"108.0\""));
	free(svg);
}

static void test_stacked(void **state)
{
	(void)state;
	static const char *const cats[] = {"line 1", "line 2"};
	double crit[] = {2, 0}, normal[] = {1, 3};
	struct pd_svg_series s[] = {{"critical", "#C0392B", crit}, {"normal", "#2E86C1", normal}};
	struct pd_svg_bars c = {.title = "Backlog", .x_label = "support line",
				.categories = cats, .n_categories = 2, .series = s, .n_series = 2,
				.stacked = true};
	char *svg = render(&c);

	/* zero segments are not drawn; totals above the stacks; bars no wider than 64 px */
	assert_int_equal(count(svg, "class=\"bar\""), 3);
	assert_non_null(strstr(svg, "width=\"64.0\""));
	assert_non_null(strstr(svg, "<title>line 1, critical: 2</title>"));
	assert_non_null(strstr(svg, ">support line</text>"));
	assert_non_null(strstr(svg, ">line 2</text>"));
	/* axis from the largest stack (3) and room for its total: 0..4 by 1 */
	assert_non_null(strstr(svg, ">4</text>"));
	assert_null(strstr(svg, ">5</text>"));
	assert_int_equal(count(svg, "font-size=\"10\""), 2); /* the two totals */
	free(svg);
}

static void test_label_thinning(void **state)
{
	(void)state;
	enum { N = 60 };
	char names[N][8];
	const char *cats[N];
	double v[N];
	struct pd_svg_series s = {"tickets", "#0072B2", v};
	struct pd_svg_bars c = {.title = "Per day", .categories = cats, .n_categories = N,
				.series = &s, .n_series = 1, .stacked = true, .width = 600};

	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "d%02d", i);
		cats[i] = names[i];
		v[i] = i % 3;
	}
	char *svg = render(&c);
	/* every bar drawn, but not every label, and the first label kept */
	assert_int_equal(count(svg, "class=\"bar\""), 40);
	assert_non_null(strstr(svg, ">d00</text>"));
	assert_null(strstr(svg, ">d01</text>"));
	/* no per-bar values on a crowded chart */
	assert_int_equal(count(svg, "font-size=\"10\""), 0);
	free(svg);
}

static void test_hostile(void **state)
{
	(void)state;
	static const char *const cats[] = {"<script>alert(1)</script>", "a\"b'c&d"};
	double v[] = {1, 2};
	struct pd_svg_series s = {"</svg><img src=x>", "#000\"/><x y=\"", v};
	struct pd_svg_bars c = {.title = "<h1>&", .categories = cats, .n_categories = 2,
				.series = &s, .n_series = 1};
	char *svg = render(&c);

	assert_null(strstr(svg, "<script"));
	assert_null(strstr(svg, "<img"));
	assert_null(strstr(svg, "<h1>"));
	assert_null(strstr(svg, "<x "));
	assert_int_equal(count(svg, "<svg"), 1);
	assert_int_equal(count(svg, "</svg>"), 1);
	assert_non_null(strstr(svg, "&lt;script&gt;"));
	free(svg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_axis_max),
		cmocka_unit_test(test_no_data),
		cmocka_unit_test(test_grouped),
		cmocka_unit_test(test_stacked),
		cmocka_unit_test(test_label_thinning),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
