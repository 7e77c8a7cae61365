/*
 * qemu-cmm bare-metal test runtime for s390x.
 *
 * A test program is a C file t-NAME.c that includes this header and
 * defines main().  The runtime starts it in 64-bit supervisor state with
 * DAT and interruptions off, a 64 KiB stack and lowcore new PSWs set up.
 * When main() returns, the runtime prints the TAP plan and stops the CPU
 * with a disabled-wait PSW: address 0xfff (QEMU shuts down, exit code 0)
 * if every assertion passed, another address (QEMU reports a guest panic)
 * otherwise.
 *
 * Extra QEMU arguments for one test go in a comment line of its source:
 *     qemu-args: -cpu max
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef RT_H
#define RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define __noreturn __attribute__((noreturn))
#define __printf(a, b) __attribute__((format(printf, a, b)))

/* Program-interruption codes (PoP chapter 6). */
#define PGM_OPERATION           0x0001
#define PGM_PRIVILEGED          0x0002
#define PGM_EXECUTE             0x0003
#define PGM_PROTECTION          0x0004
#define PGM_ADDRESSING          0x0005
#define PGM_SPECIFICATION       0x0006
#define PGM_DATA                0x0007
#define PGM_SEGMENT_TRANS       0x0010
#define PGM_PAGE_TRANS          0x0011
#define PGM_SPECIAL_OPERATION   0x0013

/* PSW bits used by the runtime. */
#define PSW_MASK_EXT            0x0100000000000000UL
#define PSW_MASK_WAIT           0x0002000000000000UL
#define PSW_MASK_PSTATE         0x0001000000000000UL
#define PSW_MASK_64             0x0000000180000000UL

/* Disabled-wait addresses: 0xfff means success to QEMU. */
#define RT_WAIT_SUCCESS         0xfffUL
#define RT_WAIT_FAIL            0xbad000UL /* | reason, reason < 0xfff */

/* ---- console ---------------------------------------------------------- */

/* Formatted output to the SCLP ASCII console (QEMU's sclpconsole).
 * Supports %s %c %d %i %u %x %X %p %% with l/ll, width and '0'/'-' flags. */
void rt_printf(const char *fmt, ...) __printf(1, 2);
void rt_vprintf(const char *fmt, va_list ap);
void rt_puts(const char *s);            /* no newline added */
void rt_flush(void);
int rt_snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);

/* ---- TAP assertions ------------------------------------------------- */

/* Print "ok N - desc" or "not ok N - desc"; return cond. */
bool rt_ok(bool cond, const char *fmt, ...) __printf(2, 3);
/* Print a "# ..." diagnostic line (newline added). */
void diag(const char *fmt, ...) __printf(1, 2);

#define ok(cond, ...) rt_ok(!!(cond), __VA_ARGS__)

/* Compare two integers, print both values on mismatch. */
#define is_eq(got, expected, ...) ({                                    \
    uint64_t _g = (uint64_t)(got), _e = (uint64_t)(expected);           \
    bool _r = rt_ok(_g == _e, __VA_ARGS__);                             \
    if (!_r) {                                                          \
        diag("  got:      0x%lx (%s)", _g, #got);                       \
        diag("  expected: 0x%lx (%s)", _e, #expected);                  \
    }                                                                   \
    _r;                                                                 \
})

/* Number of assertions so far and of failed ones. */
unsigned rt_tests_run(void);
unsigned rt_tests_failed(void);

/* Stop now: print "Bail out! msg" and fail. */
void rt_bail(const char *fmt, ...) __printf(1, 2) __noreturn;
/* Stop now: success iff no assertion failed (and at least one ran). */
void rt_exit(void) __noreturn;

/* ---- program interruptions ---------------------------------------------- */

struct pgm_info {
    uint16_t pic;       /* interruption code, 0 if none was taken */
    uint8_t ilc;        /* instruction-length code (1..3 halfwords) */
    uint64_t psw_mask;  /* program old PSW */
    uint64_t psw_addr;
};

/*
 * Arm capture of the next program interruption.  The next one is recorded
 * instead of failing the test, and execution resumes at the old PSW
 * address (after the instruction for suppressing/terminating exceptions;
 * for the nullifying DAT exceptions the runtime skips the instruction).
 * Any program interruption while not armed fails the test with a message
 * showing the code and PSW.
 */
void pgm_expect(void);
/* Disarm; return the code of the interruption taken since pgm_expect(),
 * 0 if none. */
uint16_t pgm_check(void);
/* Details of the last captured interruption. */
const struct pgm_info *pgm_last(void);

/* pgm_check() and assert that it equals expected (0: none). */
bool rt_check_pgm(uint16_t expected, const char *fmt, ...) __printf(2, 3);
#define check_pgm(expected, ...) rt_check_pgm((expected), __VA_ARGS__)

/* ---- PSW state ---------------------------------------------------------- */

/* Switch to problem state (continues at the next statement). */
void enter_pstate(void);
/* Back to supervisor state (via SVC 1); no-op if already there. */
void leave_pstate(void);
/* True if the CPU runs in problem state (reads the PSW with EPSW). */
bool in_pstate(void);

/* Extract the PSW (EPSW): mask bits 0-63 with the address bits cleared. */
static inline uint64_t rt_epsw(void)
{
    uint64_t hi, lo;

    asm volatile("epsw %0,%1" : "=d"(hi), "=d"(lo));
    return (hi << 32) | (lo & 0xffffffffUL);
}

/* ---- time and a second CPU ------------------------------------------ */

/* TOD clock (STCK) in microseconds. */
uint64_t rt_now_us(void);

#define SIGP_SENSE              1
#define SIGP_STOP               5
#define SIGP_RESTART            6
#define SIGP_SET_PREFIX         13
#define SIGP_STATUS_STOPPED     0x40

/* SIGNAL PROCESSOR to CPU address cpu; retries while busy (CC 2).
 * Returns the CC; *status (may be NULL) gets the status for CC 1. */
int rt_sigp(uint16_t cpu, unsigned order, uint64_t param, uint32_t *status);

/* CPUs the runtime can run jobs on: 0 (the test) and 1 to RT_MAX_CPUS - 1. */
#define RT_MAX_CPUS             4

/*
 * Run fn() on the stopped CPU cpu (1 to RT_MAX_CPUS - 1, e.g. 1 with
 * -smp 2): the first call gives it its own prefix area (SIGP SET PREFIX),
 * each call starts it with SIGP RESTART on its own 16 KiB stack, in 64-bit
 * supervisor state with all interruptions disabled; any interruption stops
 * it in a disabled wait.  When fn returns, the CPU stops itself (SIGP
 * STOP).  Several CPUs may run at once.  Returns false (with a diagnostic)
 * if SIGP failed.
 */
bool rt_cpu_start(uint16_t cpu, void (*fn)(void));
/* The prefix area of CPU n is rt_cpu_lowcore[n - 1]. */
extern uint8_t rt_cpu_lowcore[RT_MAX_CPUS - 1][8192];
/* Wait up to timeout_us until CPU cpu is stopped; false on timeout. */
bool rt_cpu_wait_stopped(uint16_t cpu, uint64_t timeout_us);

/* ---- helpers --------------------------------------------------------- */

void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Test program entry point. */
int main(void);

#endif /* RT_H */
