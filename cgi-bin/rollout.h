/* Staged rollouts' evaluation (ARCHITECTURE.md "Rollouts"): starting a rollout's next stage, and
 * the sweep that advances stages, fails devices past their timeout and stops a rollout whose
 * failures pass its threshold. Every step is a conditional UPDATE in the store, so any number of
 * sweeps may run at once, on any number of hosts: each transition happens once. */
#ifndef PROVD_ROLLOUT_H
#define PROVD_ROLLOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* A rollout's stages as stored ("[5,25,100]") into percent[]; how many (0: not a valid list). */
int rollout_stages_parse(const char *json, int percent[ROLLOUT_STAGES_MAX]);

/* How many of n devices a stage of percent covers, stages before it included: ceil(percent% x n). */
int64_t rollout_stage_devices(int percent, int64_t n);

/* Starts the stage after r->stage (the first when r->stage is 0): its devices are fixed now from
 * the tag's accepted devices and assigned r->firmware. STORE_STALE when another evaluator moved
 * the rollout first; STORE_NOT_FOUND when r has no stage after its own. */
enum store_status rollout_start_next(struct store *s, const struct rollout *r, int64_t now, int64_t *assigned);

/* What one sweep did, across every running rollout. */
struct rollout_sweep_result {
    int rollouts;      /* running rollouts evaluated */
    int stages;        /* stages started */
    int done;          /* rollouts finished */
    int stopped;       /* rollouts paused by their failure threshold */
    int64_t timed_out; /* devices failed by their timeout */
};

/* One evaluation of every running rollout at now. A rollout stopped by its failures raises
 * rollout_alert(). */
enum store_status rollout_sweep(struct store *s, int64_t now, struct rollout_sweep_result *out);

/* The alert of a rollout that paused itself at now (its reason says why): kind rollout_stopped,
 * subject "rollout:<id>", with rollout, firmware, tag and reason, into provd-alerts' outbox
 * (store_alert_enqueue()). The sweep calls it in the transaction of the pause, so the alert
 * exists exactly when the pause does, and logs event=rollout_stopped once both are committed. */
enum store_status rollout_alert(struct store *s, const struct rollout *r, const char *reason, int64_t now);

#endif
