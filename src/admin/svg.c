/*
 * svg.c - bar charts as inline SVG (see svg.h).
 *
 * Owns the geometry: margins, the value axis and its grid, bar placement,
 * category labels (every k-th one when they would overlap), the legend, and
 * the "no data" frame.  Text is measured by a fixed average glyph width,
 * which is good enough for labels of a few characters in sans-serif.
 */
#include "autoconfig.h"

#include <string.h>

#include "svg.h"

#define SVG_FONT "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""
#define GLYPH_PX 6.5 /* average width of a character at 11px */
#define BAR_MAX 64.0 /* the widest bar, so that a lone one still looks like a bar */

void pd_svg_escape(FILE *out, const char *s)
{
	if (s == NULL)
		return;
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

double pd_svg_axis_max(double max, double *step_r)
{
	static const double mult[] = {1, 2, 2.5, 5};
	double scale = 1;

	if (!(max > 0)) {
		*step_r = 1;
		return 1;
	}
	while (max / scale > 50)
		scale *= 10;
	while (scale > 1 && max / scale < 5)
		scale /= 10;
	for (;; scale *= 10) {
		for (size_t i = 0; i < sizeof(mult) / sizeof(mult[0]); i++) {
			double step = mult[i] * scale;
			double top;
			int n;

			if (step < 1 || step != (double)(long long)step)
				continue; /* whole steps: counts have no halves */
			n = (int)(max / step);
			if ((double)n * step < max)
				n++;
			top = n * step;
			if (n <= 5) {
				*step_r = step;
				return top;
			}
		}
	}
}

bool pd_svg_has_data(const struct pd_svg_bars *c)
{
	for (size_t s = 0; s < c->n_series; s++)
		for (size_t i = 0; i < c->n_categories; i++) {
			double v = c->series[s].values[i];

			if (v > 0 || (v >= 0 && c->y_max > 0))
				return true;
		}
	return false;
}

/* A value as a label: integers without decimals, others with one. */
static void num(FILE *out, double v, const char *suffix)
{
	if (v == (double)(long long)v)
		fprintf(out, "%lld%s", (long long)v, suffix);
	else
		fprintf(out, "%.1f%s", v, suffix);
}

/* The top of the data: the largest bar or stack. */
static double data_max(const struct pd_svg_bars *c)
{
	double max = 0;

	for (size_t i = 0; i < c->n_categories; i++) {
		double sum = 0;

		for (size_t s = 0; s < c->n_series; s++) {
			double v = c->series[s].values[i];

			if (v < 0)
				continue;
			if (c->stacked)
				sum += v;
			else if (v > max)
				max = v;
		}
		if (sum > max)
			max = sum;
	}
	return max;
}

static void bar(FILE *out, double x, double y, double w, double h, const char *color,
		const char *category, const char *series, double v, const char *suffix)
{
	fprintf(out, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		     "fill=\"",
		x, y, w, h);
	pd_svg_escape(out, color);
	fputs("\"><title>", out);
	pd_svg_escape(out, category);
	if (series != NULL && *series) {
		fputs(", ", out);
		pd_svg_escape(out, series);
	}
	fputs(": ", out);
	num(out, v, suffix);
	fputs("</title></rect>\n", out);
}

static void legend(FILE *out, const struct pd_svg_bars *c, double x, double y)
{
	for (size_t s = 0; s < c->n_series; s++) {
		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"", x,
			y - 9);
		pd_svg_escape(out, c->series[s].color);
		fprintf(out, "\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#333\">",
			x + 14, y);
		pd_svg_escape(out, c->series[s].name);
		fputs("</text>\n", out);
		x += 14 + GLYPH_PX * (double)strlen(c->series[s].name ? c->series[s].name : "") + 14;
	}
}

void pd_svg_bars(FILE *out, const struct pd_svg_bars *c)
{
	const char *suffix = c->suffix ? c->suffix : "";
	double w = c->width > 0 ? c->width : 600, h = c->height > 0 ? c->height : 300;
	double left = c->y_label ? 60 : 46, right = 12;
	double top = c->n_series > 1 ? 62 : 40, bottom = c->x_label ? 46 : 30;
	double pw = w - left - right, ph = h - top - bottom;
	bool data = pd_svg_has_data(c);

	fprintf(out,
		"<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
		w, h, w, h);
	pd_svg_escape(out, c->title);
	fputs("\" " SVG_FONT ">\n", out);
	fprintf(out, "<rect class=\"frame\" x=\"0.5\" y=\"0.5\" width=\"%.0f\" height=\"%.0f\" "
		     "fill=\"#fff\" stroke=\"#ddd\"/>\n",
		w - 1, h - 1);
	fputs("<text x=\"12\" y=\"22\" font-size=\"14\" font-weight=\"bold\" fill=\"#222\">", out);
	pd_svg_escape(out, c->title);
	fputs("</text>\n", out);
	if (!data) {
		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			     "fill=\"#f7f7f7\" stroke=\"#ccc\" stroke-dasharray=\"4 3\"/>\n",
			left, top, pw, ph);
		fprintf(out, "<text class=\"nodata\" x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
			     "fill=\"#888\" text-anchor=\"middle\">no data</text>\n</svg>\n",
			left + pw / 2, top + ph / 2 + 5);
		return;
	}
	if (c->n_series > 1)
		legend(out, c, left, 40);

	/* values above the bars on charts with few of them (room left for them) */
	bool values = c->n_categories * (c->stacked ? 1 : c->n_series) <= 16;

	/* value axis: grid lines and tick labels */
	double step = 1, ymax;
	if (c->y_max > 0) {
		ymax = c->y_max;
		step = c->y_max / 4;
	} else {
		ymax = pd_svg_axis_max(data_max(c) * (values ? 1.1 : 1), &step);
	}
	for (double t = 0; t <= ymax + step / 2; t += step) {
		double y = top + ph - t / ymax * ph;

		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
			left, y, left + pw, y, t == 0 ? "#666" : "#e4e4e4");
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555\" "
			     "text-anchor=\"end\">",
			left - 6, y + 4);
		num(out, t, suffix);
		fputs("</text>\n", out);
	}
	if (c->y_label) {
		fprintf(out, "<text transform=\"translate(14 %.1f) rotate(-90)\" font-size=\"11\" "
			     "fill=\"#555\" text-anchor=\"middle\">",
			top + ph / 2);
		pd_svg_escape(out, c->y_label);
		fputs("</text>\n", out);
	}

	/* bars and category labels */
	double slot = pw / (double)c->n_categories;
	size_t longest = 1;
	for (size_t i = 0; i < c->n_categories; i++)
		if (c->categories[i] && strlen(c->categories[i]) > longest)
			longest = strlen(c->categories[i]);
	size_t every = (size_t)((GLYPH_PX * (double)longest + 8) / slot) + 1;

	for (size_t i = 0; i < c->n_categories; i++) {
		double x = left + (double)i * slot, base = top + ph, sum = 0;
		bool any = false;

		for (size_t s = 0; s < c->n_series; s++) {
			const struct pd_svg_series *se = &c->series[s];
			double v = se->values[i], bh, bw, bx;

			if (v < 0)
				continue;
			any = true;
			bh = v / ymax * ph;
			if (c->stacked) {
				bw = slot * 0.7 < BAR_MAX ? slot * 0.7 : BAR_MAX;
				bx = x + (slot - bw) / 2;
				base -= bh;
				sum += v;
				if (v > 0)
					bar(out, bx, base, bw, bh, se->color, c->categories[i],
					    se->name, v, suffix);
				continue;
			}
			bw = slot * 0.8 / (double)c->n_series;
			if (bw > BAR_MAX)
				bw = BAR_MAX;
			bx = x + (slot - bw * (double)c->n_series) / 2 + (double)s * bw;
			bar(out, bx + bw * 0.05, top + ph - bh, bw * 0.9, bh > 0 ? bh : 0.5, se->color,
			    c->categories[i], se->name, v, suffix);
			if (values) {
				fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
					     "fill=\"#333\" text-anchor=\"middle\">",
					bx + bw / 2, top + ph - bh - 3);
				num(out, v, suffix);
				fputs("</text>\n", out);
			}
		}
		if (c->stacked && values && any && sum > 0) {
			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#333\" "
				     "text-anchor=\"middle\">",
				x + slot / 2, base - 3);
			num(out, sum, suffix);
			fputs("</text>\n", out);
		}
		if (i % every == 0) {
			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#444\" "
				     "text-anchor=\"middle\">",
				x + slot / 2, top + ph + 15);
			pd_svg_escape(out, c->categories[i]);
			fputs("</text>\n", out);
		}
	}
	if (c->x_label) {
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555\" "
			     "text-anchor=\"middle\">",
			left + pw / 2, h - 10);
		pd_svg_escape(out, c->x_label);
		fputs("</text>\n", out);
	}
	fputs("</svg>\n", out);
}
