/*
 * svg.h - bar charts as inline SVG for the HTML report (pure: data in, SVG
 * text out to a stdio stream, no I/O of its own).
 *
 * One chart kind covers what the report draws: categories along the x axis,
 * one or more series of values per category, drawn side by side (grouped) or
 * on top of each other (stacked), with a title, axis labels, a value axis
 * with grid lines and a legend when there is more than one series.  Every
 * bar carries a <title> (the browser's tooltip) with its exact value.  A
 * chart without data draws its frame and title and says "no data" instead of
 * an empty or broken plot.
 *
 * Strings are written escaped for XML (and so for HTML), so they may come
 * straight from the database.  No JavaScript, no external resources, no
 * fonts beyond the generic sans-serif family.
 */
#ifndef PD_SVG_H
#define PD_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* One series: a name for the legend, a fill colour ("#rrggbb") and one value
 * per category; a negative value is missing (no bar). */
struct pd_svg_series {
	const char *name;
	const char *color;
	const double *values;
};

struct pd_svg_bars {
	const char *title;   /* above the plot */
	const char *x_label; /* below the category labels; NULL = none */
	const char *y_label; /* beside the value axis, rotated; NULL = none */
	const char *const *categories;
	size_t n_categories;
	const struct pd_svg_series *series;
	size_t n_series;
	bool stacked;       /* stack the series; else side by side */
	double y_max;       /* fixed top of the value axis (100 for percentages); 0 = from the data */
	const char *suffix; /* appended to tick labels and tooltips ("%"); NULL = "" */
	int width, height;  /* pixels; 0 = 600 x 300 */
};

/* Write c as one <svg> element (class "chart") to out. */
void pd_svg_bars(FILE *out, const struct pd_svg_bars *c);

/* Whether c has anything to draw: a value > 0, or a value >= 0 on a chart
 * with a fixed axis (0 % is a result; 0 tickets is not a chart). */
bool pd_svg_has_data(const struct pd_svg_bars *c);

/*
 * A round top for a value axis showing max: the smallest of 1, 2, 2.5, 5 x
 * 10^k steps that covers max in at most 5 steps (whole steps only).
 * *step_r gets the step.  max <= 0 gives 1 with a step of 1.
 */
double pd_svg_axis_max(double max, double *step_r);

/* Write s escaped for XML text and attribute values (& < > " ').  NULL
 * writes nothing. */
void pd_svg_escape(FILE *out, const char *s);

#endif
