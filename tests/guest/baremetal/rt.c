/*
 * qemu-cmm bare-metal test runtime: console, formatter, TAP assertions,
 * program-interruption capture, problem state and exit.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "lowcore.h"

unsigned rt_wait_ext(void);                 /* start.S */
void rt_start(void) __noreturn;
void rt_pgm_handler(void);

/* ---- lowcore access ------------------------------------------------------
 * The lowcore lives at real address 0.  Launder the base through an asm so
 * that the compiler does not treat accesses as null-pointer arithmetic.
 */
static inline uint8_t *lowcore(void)
{
    uint8_t *p;

    asm("lghi %0,0" : "=d"(p));
    return p;
}
#define LC8(off)   (*(volatile uint8_t *)(lowcore() + (off)))
#define LC16(off)  (*(volatile uint16_t *)(lowcore() + (off)))
#define LC64(off)  (*(volatile uint64_t *)(lowcore() + (off)))

/* ---- stop ---------------------------------------------------------------- */

static void __noreturn stop(uint64_t addr)
{
    static uint64_t psw[2] __attribute__((aligned(16)));

    psw[0] = RT_MASK_WAIT;
    psw[1] = addr;
    asm volatile("lpswe 0(%0)" : : "a"(psw) : "memory");
    __builtin_unreachable();
}

/* ---- SCLP console ---------------------------------------------------------
 * Output goes to QEMU's "sclpconsole" (the first -serial device of the
 * s390-ccw-virtio machine, stdio with -nographic) as "ASCII console data"
 * event buffers (event type 0x1a) in a Write Event Data SCCB.
 */
#define SCLP_CMD_WRITE_EVENT_DATA   0x00760005u
#define SCLP_CMD_WRITE_EVENT_MASK   0x00780005u
#define SCLP_RC_NORMAL_COMPLETION   0x0020
#define SCLP_EV_ASCII_CONSOLE       0x1a
#define EXT_CODE_SERVICE_SIGNAL     0x2401

struct sccb_header {
    uint16_t length;
    uint8_t function_code;
    uint8_t control_mask[3];
    uint16_t response_code;
} __attribute__((packed));

struct event_header {
    uint16_t length;
    uint8_t type;
    uint8_t flags;
    uint16_t reserved;
} __attribute__((packed));

#define CONSOLE_MAX 2048

struct write_sccb {
    struct sccb_header h;
    struct event_header ev;
    char data[CONSOLE_MAX];
} __attribute__((packed));

struct mask_sccb {
    struct sccb_header h;
    uint16_t reserved;
    uint16_t mask_length;
    uint32_t cp_receive_mask;
    uint32_t cp_send_mask;
    uint32_t receive_mask;
    uint32_t send_mask;
} __attribute__((packed));

/* One page, below 2 GiB, outside the first 8 KiB: what SERVC wants. */
static union {
    struct write_sccb w;
    struct mask_sccb m;
    uint8_t page[4096];
} sccb __attribute__((aligned(4096), section(".bss.page_aligned")));

static char conbuf[CONSOLE_MAX];
static size_t conlen;
static bool console_ok;

/* SERVC; returns the condition code. */
static int servc(uint32_t cmd, void *area)
{
    int cc;

    asm volatile("  .insn rre,0xb2200000,%[cmd],%[area]\n"
                 "  ipm   %[cc]\n"
                 "  srl   %[cc],28\n"
                 : [cc] "=d"(cc)
                 : [cmd] "d"((uint64_t)cmd), [area] "a"(area)
                 : "cc", "memory");
    return cc;
}

/* Issue an SCLP command and wait for its service signal.  Returns the
 * SCCB response code, or 0 if the command could not be started. */
static uint16_t sclp_call(uint32_t cmd, struct sccb_header *h)
{
    int tries;

    for (tries = 0; tries < 100; tries++) {
        int cc = servc(cmd, h);

        if (cc == 0) {
            if (rt_wait_ext() != EXT_CODE_SERVICE_SIGNAL) {
                stop(RT_STOP_EXT);
            }
            return h->response_code;
        }
        if (cc != 2) {
            return 0;
        }
        /* busy: a previous request is still outstanding */
        rt_wait_ext();
    }
    return 0;
}

static void console_init(void)
{
    memset(&sccb, 0, sizeof(sccb));
    sccb.m.h.length = sizeof(sccb.m);
    sccb.m.mask_length = 4;
    /* event type T is mask bit T-1, counted from the left */
    sccb.m.cp_send_mask = 1u << (32 - SCLP_EV_ASCII_CONSOLE);
    /* QEMU accepts console data even without the mask, so carry on
     * whatever the response code is. */
    sclp_call(SCLP_CMD_WRITE_EVENT_MASK, &sccb.m.h);
    console_ok = true;
}

static void console_write(const char *s, size_t n)
{
    bool pstate = in_pstate();
    uint16_t rc;

    if (!console_ok || !n) {
        return;
    }
    if (pstate) {
        leave_pstate();
    }
    memset(&sccb, 0, sizeof(sccb.w.h) + sizeof(sccb.w.ev));
    memcpy(sccb.w.data, s, n);
    sccb.w.h.length = sizeof(sccb.w.h) + sizeof(sccb.w.ev) + n;
    sccb.w.ev.length = sizeof(sccb.w.ev) + n;
    sccb.w.ev.type = SCLP_EV_ASCII_CONSOLE;
    rc = sclp_call(SCLP_CMD_WRITE_EVENT_DATA, &sccb.w.h);
    if (rc != SCLP_RC_NORMAL_COMPLETION) {
        console_ok = false;
        stop(RT_STOP_CONSOLE);
    }
    if (pstate) {
        enter_pstate();
    }
}

void rt_flush(void)
{
    console_write(conbuf, conlen);
    conlen = 0;
}

static void con_putc(char c)
{
    if (c == '\n') {
        /* raw terminals (-nographic) need CR LF */
        if (conlen + 2 > sizeof(conbuf)) {
            rt_flush();
        }
        conbuf[conlen++] = '\r';
        conbuf[conlen++] = '\n';
        rt_flush();
        return;
    }
    if (conlen + 1 > sizeof(conbuf) - 1) {
        rt_flush();
    }
    conbuf[conlen++] = c;
}

void rt_puts(const char *s)
{
    while (*s) {
        con_putc(*s++);
    }
}

/* ---- formatter ------------------------------------------------------------ */

struct sink {
    void (*put)(struct sink *, char);
    char *buf;
    size_t size, len;
};

static void sink_con(struct sink *k, char c)
{
    (void)k;
    con_putc(c);
}

static void sink_buf(struct sink *k, char c)
{
    if (k->len + 1 < k->size) {
        k->buf[k->len] = c;
    }
    k->len++;
}

static void pad(struct sink *k, char c, int n)
{
    while (n-- > 0) {
        k->put(k, c);
    }
}

static void format(struct sink *k, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        char tmp[24];
        const char *s;
        int width = 0, lng = 0, len;
        bool zero = false, left = false, neg = false;
        unsigned base = 10;
        uint64_t v;

        if (*fmt != '%') {
            k->put(k, *fmt);
            continue;
        }
        fmt++;
        for (;; fmt++) {
            if (*fmt == '0') {
                zero = true;
            } else if (*fmt == '-') {
                left = true;
            } else {
                break;
            }
        }
        while (*fmt >= '0' && *fmt <= '9') {
            width = width * 10 + (*fmt++ - '0');
        }
        while (*fmt == 'l' || *fmt == 'z' || *fmt == 'h') {
            if (*fmt != 'h') {
                lng++;
            }
            fmt++;
        }
        switch (*fmt) {
        case 'c':
            tmp[0] = (char)va_arg(ap, int);
            tmp[1] = 0;
            s = tmp;
            zero = false;
            break;
        case 's':
            s = va_arg(ap, const char *);
            if (!s) {
                s = "(null)";
            }
            zero = false;
            break;
        case 'd':
        case 'i': {
            int64_t sv = lng ? va_arg(ap, long) : va_arg(ap, int);

            neg = sv < 0;
            v = neg ? -(uint64_t)sv : (uint64_t)sv;
            goto number;
        }
        case 'p':
            v = (uintptr_t)va_arg(ap, void *);
            base = 16;
            k->put(k, '0');
            k->put(k, 'x');
            goto number;
        case 'x':
        case 'X':
            base = 16;
            /* fall through */
        case 'u':
            v = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
        number: {
            char *p = tmp + sizeof(tmp) - 1;

            *p = 0;
            do {
                *--p = "0123456789abcdef"[v % base];
                v /= base;
            } while (v);
            if (neg) {
                if (zero) {
                    k->put(k, '-');
                    width--;
                } else {
                    *--p = '-';
                }
            }
            s = p;
            break;
        }
        case '%':
            s = "%";
            break;
        case 0:
            return;
        default:
            s = "%?";
            break;
        }
        len = (int)strlen(s);
        if (!left) {
            pad(k, zero ? '0' : ' ', width - len);
        }
        while (*s) {
            k->put(k, *s++);
        }
        if (left) {
            pad(k, ' ', width - len);
        }
    }
}

void rt_vprintf(const char *fmt, va_list ap)
{
    struct sink k = { .put = sink_con };

    format(&k, fmt, ap);
}

void rt_printf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rt_vprintf(fmt, ap);
    va_end(ap);
}

int rt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    struct sink k = { .put = sink_buf, .buf = buf, .size = size };
    va_list ap;

    va_start(ap, fmt);
    format(&k, fmt, ap);
    va_end(ap);
    if (size) {
        buf[k.len < size ? k.len : size - 1] = 0;
    }
    return (int)k.len;
}

/* ---- TAP ------------------------------------------------------------------ */

static unsigned tests_run, tests_failed;

unsigned rt_tests_run(void)
{
    return tests_run;
}

unsigned rt_tests_failed(void)
{
    return tests_failed;
}

static bool vok(bool cond, const char *fmt, va_list ap)
{
    tests_run++;
    if (!cond) {
        tests_failed++;
    }
    rt_printf("%sok %u - ", cond ? "" : "not ", tests_run);
    rt_vprintf(fmt, ap);
    rt_puts("\n");
    return cond;
}

bool rt_ok(bool cond, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vok(cond, fmt, ap);
    va_end(ap);
    return cond;
}

void diag(const char *fmt, ...)
{
    va_list ap;

    rt_puts("# ");
    va_start(ap, fmt);
    rt_vprintf(fmt, ap);
    va_end(ap);
    rt_puts("\n");
}

void rt_exit(void)
{
    bool pass = tests_failed == 0 && tests_run > 0;

    if (in_pstate()) {
        leave_pstate();
    }
    rt_printf("1..%u\n", tests_run);
    if (!tests_run) {
        rt_puts("# no assertions ran\n");
    }
    rt_printf("# %s: %u passed, %u failed\n", pass ? "PASS" : "FAIL",
              tests_run - tests_failed, tests_failed);
    rt_flush();
    stop(pass ? RT_WAIT_SUCCESS : RT_STOP_FAIL);
}

void rt_bail(const char *fmt, ...)
{
    va_list ap;

    if (in_pstate()) {
        leave_pstate();
    }
    rt_puts("Bail out! ");
    va_start(ap, fmt);
    rt_vprintf(fmt, ap);
    va_end(ap);
    rt_puts("\n");
    rt_flush();
    stop(RT_STOP_FAIL);
}

/* ---- program interruptions ---------------------------------------------- */

static volatile bool pgm_armed;
static struct pgm_info pgm_info;

void pgm_expect(void)
{
    memset(&pgm_info, 0, sizeof(pgm_info));
    asm volatile("" ::: "memory");
    pgm_armed = true;
    asm volatile("" ::: "memory");
}

uint16_t pgm_check(void)
{
    asm volatile("" ::: "memory");
    pgm_armed = false;
    asm volatile("" ::: "memory");
    return pgm_info.pic;
}

const struct pgm_info *pgm_last(void)
{
    return &pgm_info;
}

bool rt_check_pgm(uint16_t expected, const char *fmt, ...)
{
    uint16_t got = pgm_check();
    va_list ap;
    bool r;

    va_start(ap, fmt);
    r = vok(got == expected, fmt, ap);
    va_end(ap);
    if (!r) {
        diag("  got PIC 0x%04x, expected 0x%04x", got, expected);
        if (got) {
            diag("  old PSW %016lx %016lx, ILC %u", pgm_info.psw_mask,
                 pgm_info.psw_addr, pgm_info.ilc);
        }
    }
    return r;
}

static const char *pic_name(uint16_t pic)
{
    switch (pic & 0x7f) {
    case 0x01: return "operation";
    case 0x02: return "privileged-operation";
    case 0x03: return "execute";
    case 0x04: return "protection";
    case 0x05: return "addressing";
    case 0x06: return "specification";
    case 0x07: return "data";
    case 0x10: return "segment-translation";
    case 0x11: return "page-translation";
    case 0x13: return "special-operation";
    default:   return "?";
    }
}

static void dump_regs(void)
{
    int i;

    for (i = 0; i < 16; i += 4) {
        diag("r%-2d %016lx %016lx %016lx %016lx", i,
             LC64(LC_PGM_SAVE + 8 * i), LC64(LC_PGM_SAVE + 8 * i + 8),
             LC64(LC_PGM_SAVE + 8 * i + 16), LC64(LC_PGM_SAVE + 8 * i + 24));
    }
}

/* Called from rt_pgm_entry with the GRs saved at LC_PGM_SAVE. */
void rt_pgm_handler(void)
{
    uint16_t pic = LC16(LC_PGM_CODE);
    uint8_t ilc = (LC8(LC_PGM_ILC) >> 1) & 3;
    uint64_t mask = LC64(LC_PGM_OLD), addr = LC64(LC_PGM_OLD + 8);

    if (pgm_armed) {
        pgm_armed = false;
        pgm_info.pic = pic;
        pgm_info.ilc = ilc;
        pgm_info.psw_mask = mask;
        pgm_info.psw_addr = addr;
        switch (pic & 0x7f) {
        case 0x10: case 0x11: case 0x38: case 0x39: case 0x3a: case 0x3b:
            /* nullified: the old PSW points at the instruction; skip it */
            LC64(LC_PGM_OLD + 8) = addr + 2 * ilc;
            break;
        }
        return;
    }

    rt_printf("not ok %u - unexpected program interruption\n", ++tests_run);
    tests_failed++;
    dump_regs();
    rt_bail("unexpected program interruption code 0x%04x (%s), ILC %u, "
            "old PSW %016lx %016lx%s",
            pic, pic_name(pic), ilc, mask, addr,
            (mask & PSW_MASK_PSTATE) ? " (problem state)" : "");
}

/* ---- problem state ---------------------------------------------------------- */

bool in_pstate(void)
{
    return rt_epsw() & PSW_MASK_PSTATE;
}

void enter_pstate(void)
{
    static uint64_t psw[2] __attribute__((aligned(16)));

    psw[0] = rt_epsw() | PSW_MASK_PSTATE;
    asm volatile("  larl  %%r1,0f\n"
                 "  stg   %%r1,8(%[p])\n"
                 "  lpswe 0(%[p])\n"
                 "0:\n"
                 : : [p] "a"(psw) : "r1", "cc", "memory");
}

void leave_pstate(void)
{
    if (in_pstate()) {
        asm volatile("svc 1" ::: "memory");
    }
}

/* ---- time and a second CPU ------------------------------------------------ */

uint64_t rt_now_us(void)
{
    uint64_t tod;

    asm volatile("stck %0" : "=Q"(tod) : : "cc");
    return tod >> 12;                   /* bit 51 is one microsecond */
}

int rt_sigp(uint16_t cpu, unsigned order, uint64_t param, uint32_t *status)
{
    register uint64_t st asm("2") = 0;  /* even R1: parameter in R1 + 1 */
    register uint64_t parm asm("3") = param;
    int cc;

    do {
        asm volatile("  sigp  %[st],%[cpu],0(%[order])\n"
                     "  ipm   %[cc]\n"
                     "  srl   %[cc],28\n"
                     : [st] "+d"(st), [cc] "=d"(cc)
                     : "d"(parm), [cpu] "d"((uint64_t)cpu),
                       [order] "a"((uint64_t)order)
                     : "cc", "memory");
    } while (cc == 2);
    if (status) {
        *status = (uint32_t)st;
    }
    return cc;
}

/* disabled-wait address of the other CPU after any interruption */
#define RT_STOP_CPU 0xbad0c0

/* The other CPUs' prefix areas and stacks: CPU n uses entry n - 1. */
uint8_t rt_cpu_lowcore[RT_MAX_CPUS - 1][8192] __attribute__((aligned(8192)));
uint8_t rt_cpu_stack[RT_MAX_CPUS - 1][16384] __attribute__((aligned(8)));
void rt_cpu_entry(void);
void rt_cpu_main(void (*fn)(void));

/*
 * Their restart entry.  Real addresses below 8 KiB are the CPU's own
 * prefix area, so each finds its stack and its job in its own lowcore.
 */
asm("   .text\n"
    "   .globl rt_cpu_entry\n"
    "rt_cpu_entry:\n"
    "   lg    %r15,0x300\n"             /* LC_RT_STACK */
    "   lghi  %r0,0\n"
    "   stg   %r0,0(%r15)\n"
    "   lg    %r2,0x308\n"              /* LC_RT_FN */
    "   brasl %r14,rt_cpu_main\n"
    "0: j     0b\n");

void rt_cpu_main(void (*fn)(void))
{
    uint16_t self;

    fn();
    asm volatile("stap %0" : "=Q"(self));
    rt_sigp(self, SIGP_STOP, 0, NULL);
}

bool rt_cpu_start(uint16_t cpu, void (*fn)(void))
{
    static bool prefixed[RT_MAX_CPUS];
    volatile uint64_t *lc;
    uint32_t status = 0;
    int cc;

    if (cpu < 1 || cpu >= RT_MAX_CPUS) {
        diag("rt_cpu_start: no CPU %u in this runtime (1 to %d)", cpu,
             RT_MAX_CPUS - 1);
        return false;
    }
    lc = (volatile uint64_t *)rt_cpu_lowcore[cpu - 1];
    if (!prefixed[cpu]) {
        unsigned off;

        memset(rt_cpu_lowcore[cpu - 1], 0, sizeof(rt_cpu_lowcore[0]));
        /* external, SVC, program, machine-check, I/O: disabled wait */
        for (off = LC_EXT_NEW; off <= LC_IO_NEW; off += 16) {
            lc[off / 8] = RT_MASK_WAIT;
            lc[off / 8 + 1] = RT_STOP_CPU;
        }
        lc[LC_RESTART_NEW / 8] = RT_MASK_SUP;
        lc[LC_RESTART_NEW / 8 + 1] = (uint64_t)rt_cpu_entry;
        lc[LC_RT_STACK / 8] = (uint64_t)rt_cpu_stack[cpu - 1] +
                              sizeof(rt_cpu_stack[0]) - 160;
        cc = rt_sigp(cpu, SIGP_SET_PREFIX, (uint64_t)rt_cpu_lowcore[cpu - 1],
                     &status);
        if (cc) {
            diag("SIGP SET PREFIX to CPU %u: CC %d status 0x%x", cpu, cc,
                 status);
            return false;
        }
        prefixed[cpu] = true;
    }
    lc[LC_RT_FN / 8] = (uint64_t)fn;
    asm volatile("bcr 14,0" : : : "memory");
    cc = rt_sigp(cpu, SIGP_RESTART, 0, &status);
    if (cc) {
        diag("SIGP RESTART to CPU %u: CC %d status 0x%x", cpu, cc, status);
        return false;
    }
    return true;
}

bool rt_cpu_wait_stopped(uint16_t cpu, uint64_t timeout_us)
{
    uint64_t start = rt_now_us();
    uint32_t status = 0;

    do {
        if (rt_sigp(cpu, SIGP_SENSE, 0, &status) == 1 &&
            (status & SIGP_STATUS_STOPPED)) {
            return true;
        }
    } while (rt_now_us() - start < timeout_us);
    diag("CPU %u did not stop: SIGP SENSE status 0x%x", cpu, status);
    return false;
}

/* ---- string helpers ------------------------------------------------------- */

void *memset(void *s, int c, size_t n)
{
    uint8_t *p = s;

    while (n--) {
        *p++ = (uint8_t)c;
    }
    return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *dp = d;
    const uint8_t *sp = s;

    while (n--) {
        *dp++ = *sp++;
    }
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;

    for (; n; n--, x++, y++) {
        if (*x != *y) {
            return *x < *y ? -1 : 1;
        }
    }
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;

    while (s[n]) {
        n++;
    }
    return n;
}

/* ---- start ---------------------------------------------------------------- */

void rt_start(void)
{
    int rc;

    console_init();
    rc = main();
    if (rc) {
        rt_bail("main() returned %d", rc);
    }
    rt_exit();
}
