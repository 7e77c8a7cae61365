/*
 * qemu-cmmd: the memory policy, a pure function of its inputs
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * cmmd_policy_tick() takes the configuration, a snapshot of the host, one
 * snapshot per guest and the time, and returns the decisions for this tick.
 * It does no I/O and reads no clock: everything it remembers between ticks
 * lives in the CmmdGuestState and CmmdPolicyState the caller passes back in,
 * so the unit tests drive it with synthetic guests and simulated time.
 *
 * All sizes are bytes, all times milliseconds.  Only the daemon's main loop
 * thread calls into this file.
 */

#ifndef CMMD_POLICY_H
#define CMMD_POLICY_H

#define CMMD_WEIGHT_DEFAULT     128
#define CMMD_WEIGHT_MAX         255
#define CMMD_MIB                (1024 * 1024ULL)
/* The smallest footprint target balloon-set-target accepts. */
#define CMMD_MIN_TARGET         CMMD_MIB
/* Ticks whose overhead estimates (usage less footprints) give a median. */
#define CMMD_OVERHEAD_HOLD      5
/* Ticks over which a guest's demand is held at its highest estimate. */
#define CMMD_DEMAND_HOLD        5
/* The smallest non-zero cap tmem-set-client accepts is below this. */
#define CMMD_MIN_TMEM_CAP       CMMD_MIB

typedef enum CmmdMode {
    CMMD_MODE_CMM,          /* cheapest reclaim first, weights, floors */
    CMMD_MODE_MOM,          /* oVirt MOM's balloon rules, logical balloon */
    CMMD_MODE_NONE,         /* watch and report only */
} CmmdMode;

typedef enum CmmdBudgetSource {
    CMMD_BUDGET_BYTES,      /* a number; the cost is the QEMUs' summed RSS */
    CMMD_BUDGET_CGROUP,     /* the limit and usage of a memory cgroup */
} CmmdBudgetSource;

/* The [host] group of the configuration: what the policy needs. */
typedef struct CmmdPolicyConfig {
    CmmdMode mode;
    uint64_t budget;            /* bytes; with a cgroup, read each tick */
    double low;                 /* low watermark, fraction of the budget */
    double high;                /* high watermark, fraction of the budget */
    double psi_threshold;       /* host "some avg10" %, above it = pressure;
                                 * 0 disables */
    uint64_t tick_ms;           /* the tick the caller runs at */
    uint64_t rate;              /* global shift cap, bytes/s, 0 = none */
    uint64_t deadband;          /* target changes below this are not sent */
    unsigned stall_holdoff;     /* ticks a stalled guest is not squeezed */
    uint64_t reserve;           /* headroom a guest gets above its use */
} CmmdPolicyConfig;

/* What the configuration says of one guest, resolved by its name. */
typedef struct CmmdGuestLimits {
    unsigned weight;            /* 0-255 */
    uint64_t floor;             /* logical size never shrunk below */
    uint64_t ceiling;           /* most the guest is given; 0 = its RAM */
    uint64_t rate;              /* shift cap for this guest, bytes/s, 0 = none */
} CmmdGuestLimits;

/* How a balloon target in force is doing, as query-balloon and events say. */
typedef enum CmmdTargetStatus {
    CMMD_TARGET_NONE,
    CMMD_TARGET_ACTIVE,
    CMMD_TARGET_REACHED,
    CMMD_TARGET_STALLED,
} CmmdTargetStatus;

typedef enum CmmdStallReason {
    CMMD_STALL_NONE,
    CMMD_STALL_DRIVER_NOT_READY,
    CMMD_STALL_GUEST_NOT_RESPONDING,
    CMMD_STALL_FLOOR,
    CMMD_STALL_DISCARD_DISABLED,
} CmmdStallReason;

/*
 * The balloon's guest statistics: counters are cumulative, -1 if the guest
 * does not report them.  Hints only: a guest may lie.
 */
typedef struct CmmdGuestStats {
    int64_t available;          /* stat-available-memory */
    int64_t free;               /* stat-free-memory */
    int64_t major_faults;
    int64_t swap_in;
    int64_t alloc_stalls;
    int64_t direct_reclaims;
    int64_t oom_kills;
} CmmdGuestStats;

/* One guest as the daemon saw it this tick. */
typedef struct CmmdGuestSnap {
    const char *name;
    bool responsive;            /* QMP answered this tick */
    bool has_balloon;
    bool has_cmma;              /* footprint and page states known */
    uint64_t ram;               /* guest RAM (base memory) */
    uint64_t actual;            /* logical size: RAM minus the balloon */
    uint64_t footprint;         /* guest RAM resident on the host */
    uint64_t unused_resident;   /* marked unused, still resident: free */
    uint64_t discarded;
    uint64_t ballooned;
    uint64_t rss;               /* the QEMU process's RSS, 0 if unknown */
    uint64_t tmem_ephemeral;    /* bytes of ephemeral tmem pages */
    uint64_t tmem_bytes;        /* bytes charged to its tmem clients */
    uint64_t tmem_cap;          /* their caps summed, 0 = no tmem */
    CmmdTargetStatus target_status;
    CmmdStallReason stall_reason;
    uint64_t target;            /* the target in force, if any */
    bool target_is_footprint;
    CmmdGuestStats stats;
    bool stats_valid;
    CmmdGuestLimits limits;
} CmmdGuestSnap;

/* What the policy remembers of a guest between ticks (the caller keeps it). */
typedef struct CmmdGuestState {
    bool known;                 /* false before the guest's first tick */
    uint64_t target;            /* the target the policy holds it to */
    uint64_t orig_tmem_cap;     /* the tmem cap before the policy lowered it */
    uint64_t tmem_cap;          /* the cap the policy set, 0 = untouched */
    CmmdGuestStats last;        /* counters at the previous tick */
    int64_t last_pressure_ms;   /* when pressure was last seen, -1 never */
    int64_t last_growth_ms;     /* when the footprint last grew by more
                                 * than the deadband in a tick, -1 never */
    uint64_t last_footprint;    /* footprint at the previous tick */
    unsigned pressure_events;   /* pressure signals seen, in all */
    bool routed_around;         /* its balloon does not respond */
    uint64_t demand;            /* what it needs: the highest estimate of
                                 * the last CMMD_DEMAND_HOLD ticks */
    uint64_t demand_hist[CMMD_DEMAND_HOLD];
    unsigned demand_pos;
    uint64_t alloc;             /* last fair share computed for it */
    char why[160];              /* the last decision's reason */
} CmmdGuestState;

/* What the policy remembers of the host between ticks. */
typedef struct CmmdPolicyState {
    bool squeezing;             /* above high, until back under low */
    bool all_at_floor;
    int64_t last_ms;            /* time of the previous tick, -1 none */
    uint64_t overhead_hist[CMMD_OVERHEAD_HOLD];  /* usage less footprints */
    unsigned overhead_pos;
} CmmdPolicyState;

typedef struct CmmdHostSnap {
    uint64_t budget;            /* the budget in force */
    uint64_t usage;             /* what the managed guests cost now */
    double psi_some_avg10;      /* %, negative if unknown */
    uint64_t mem_available;     /* host MemAvailable, 0 if unknown */
} CmmdHostSnap;

typedef enum CmmdActionKind {
    CMMD_ACT_FLUSH,             /* cmma-flush: release unused pages now */
    CMMD_ACT_TMEM_CAP,          /* tmem-set-client cap on the guest's clients */
    CMMD_ACT_TARGET,            /* balloon-set-target footprint */
    CMMD_ACT_BALLOON,           /* balloon (logical size), MOM mode */
} CmmdActionKind;

typedef struct CmmdAction {
    CmmdActionKind kind;
    size_t guest;               /* index into the snapshots */
    uint64_t value;             /* target, cap or logical size */
    uint64_t rate;              /* for CMMD_ACT_TARGET, 0 = none */
    uint64_t floor;             /* for CMMD_ACT_TARGET */
    char why[160];
} CmmdAction;

typedef struct CmmdDecisions {
    GArray *actions;            /* CmmdAction */
    uint64_t reclaim_free;      /* expected from unused pages this tick */
    uint64_t reclaim_tmem;
    uint64_t reclaim_balloon;
    uint64_t give_back;
    bool over_high;
    bool all_at_floor;
    bool budget_capped;         /* the host had less memory than the budget */
    char summary[320];          /* one line: regime and numbers */
} CmmdDecisions;

void cmmd_decisions_init(CmmdDecisions *d);
void cmmd_decisions_clear(CmmdDecisions *d);

/* Reset the per-guest state to what a guest new to the daemon starts with. */
void cmmd_guest_state_init(CmmdGuestState *st);

/*
 * One tick.  @guests and @states have @n entries each, in the same order;
 * @states are read and updated.  @d is cleared and filled.
 */
void cmmd_policy_tick(const CmmdPolicyConfig *cfg, const CmmdHostSnap *host,
                      const CmmdGuestSnap *guests, CmmdGuestState *states,
                      size_t n, CmmdPolicyState *ps, int64_t now_ms,
                      CmmdDecisions *d);

/* What the guest is estimated to need (exported for the status tool). */
uint64_t cmmd_guest_demand(const CmmdPolicyConfig *cfg,
                           const CmmdGuestSnap *g);

const char *cmmd_mode_name(CmmdMode mode);
const char *cmmd_action_name(CmmdActionKind kind);

#endif
