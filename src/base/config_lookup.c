/*
 * config_lookup.c - the lookups over a loaded configuration that config.h
 * declares: a mailbox, SLA, calendar, line, queue, plan or type by name, the
 * SLA that applies under a plan, and whether an address is listed (agents,
 * rule senders, plan customers).  Pure: they read struct pd_config and
 * nothing else, so the deciding modules use them.  Loading the
 * configuration is src/config/config.c's.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <string.h>

#include "config.h"
#include "util.h"

/* the order of pd_plan_cfg.prio[] (config.h) */
static const char *const priorities[] = {"critical", "high", "normal", "low"};

const struct pd_mailbox_cfg *pd_config_mailbox(const struct pd_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_mailboxes; i++)
		if (strcmp(cfg->mailboxes[i].name, name) == 0)
			return &cfg->mailboxes[i];
	return NULL;
}

const struct pd_sla_cfg *pd_config_sla(const struct pd_config *cfg, const char *priority)
{
	for (size_t i = 0; i < cfg->n_sla; i++)
		if (strcmp(cfg->sla[i].priority, priority) == 0)
			return &cfg->sla[i];
	return NULL;
}

const struct pd_calendar_cfg *pd_config_calendar(const struct pd_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_calendars; i++)
		if (strcmp(cfg->calendars[i].name, name) == 0)
			return &cfg->calendars[i];
	return NULL;
}

const struct pd_line_cfg *pd_config_line(const struct pd_config *cfg, int number)
{
	for (size_t i = 0; i < cfg->n_lines; i++)
		if (cfg->lines[i].number == number)
			return &cfg->lines[i];
	return NULL;
}

const struct pd_queue_cfg *pd_config_queue(const struct pd_config *cfg, const char *name)
{
	if (cfg == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->classify.n_queues; i++)
		if (strcmp(cfg->classify.queues[i].name, name) == 0)
			return &cfg->classify.queues[i];
	return NULL;
}

const struct pd_plan_cfg *pd_config_plan(const struct pd_config *cfg, const char *name)
{
	for (size_t i = 0; name != NULL && i < cfg->n_plans; i++)
		if (strcmp(cfg->plans[i].name, name) == 0)
			return &cfg->plans[i];
	return NULL;
}

bool pd_config_addr_listed(const struct pd_strlist *l, const char *addr)
{
	return pd_addr_listed(l, addr);
}

const struct pd_plan_cfg *pd_config_plan_for(const struct pd_config *cfg, const char *addr)
{
	for (size_t i = 0; i < cfg->n_plans; i++)
		if (pd_config_addr_listed(&cfg->plans[i].customers, addr))
			return &cfg->plans[i];
	return NULL;
}

bool pd_config_sla_for(const struct pd_config *cfg, const char *plan, const char *priority,
		       struct pd_sla_cfg *out)
{
	const struct pd_sla_cfg *base = pd_config_sla(cfg, priority);
	const struct pd_plan_cfg *p = pd_config_plan(cfg, plan);
	int idx = -1;

	for (size_t i = 0; i < PD_ARRAY_LEN(priorities); i++)
		if (priority != NULL && strcmp(priority, priorities[i]) == 0)
			idx = (int)i;
	if (p != NULL && idx >= 0 && p->prio[idx].set) {
		memset(out, 0, sizeof(*out));
		out->priority = (char *)(uintptr_t)priorities[idx];
		out->first_response = p->prio[idx].first_response;
		out->resolution = p->prio[idx].resolution;
		out->calendar = base != NULL ? base->calendar : (char *)(uintptr_t) "24x7";
		out->warn_at = base != NULL ? base->warn_at : 80;
	} else if (base != NULL) {
		*out = *base;
	} else {
		return false;
	}
	if (p != NULL && p->calendar != NULL)
		out->calendar = p->calendar;
	if (p != NULL && p->warn_at > 0)
		out->warn_at = p->warn_at;
	return true;
}

const struct pd_type_cfg *pd_config_type(const struct pd_config *cfg, const char *name)
{
	if (cfg == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->classify.n_types; i++)
		if (strcmp(cfg->classify.types[i].name, name) == 0)
			return &cfg->classify.types[i];
	return NULL;
}

bool pd_config_is_agent(const struct pd_config *cfg, const char *addr)
{
	return cfg != NULL && pd_config_addr_listed(&cfg->agent_addresses, addr);
}
