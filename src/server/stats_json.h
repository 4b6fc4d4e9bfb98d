/* GET /v1/kvspill/stats: engine_stats as one JSON object, for the dashboard (web/dashboard.js)
 * and scripts. Counters are totals since start; a reader computes rates from deltas. */
#ifndef KVSPILL_SERVER_STATS_JSON_H
#define KVSPILL_SERVER_STATS_JSON_H

#include <jansson.h>

#include "engine/engine.h"

/* NULL when out of memory. */
json_t *stats_json(const engine_stats *st, const char *model_name);

#endif
