/* The part every tier shares: its name, its last error, no capabilities until it sets them. */
#include <stdio.h>
#include <string.h>

#include "cache/tier.h"

void kvs_tier_base_init(kvs_tier *tier, const kvs_tier_methods *methods, const char *name)
{
    tier->methods = methods;
    tier->device = NULL;
    snprintf(tier->name, sizeof tier->name, "%s", name);
    pthread_mutex_init(&tier->error_lock, NULL);
    tier->last_error[0] = '\0';
}

void kvs_tier_base_destroy(kvs_tier *tier)
{
    pthread_mutex_destroy(&tier->error_lock);
}

void kvs_tier_note_error(kvs_tier *tier, const kvs_error *err)
{
    if (!err)
        return;
    pthread_mutex_lock(&tier->error_lock);
    snprintf(tier->last_error, sizeof tier->last_error, "%s", err->msg);
    pthread_mutex_unlock(&tier->error_lock);
}
