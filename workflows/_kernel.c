/* The native NDJSON kernel: a block of whole Zeek JSON lines in, CSV rows out, with no Python object per
 * value and the GIL released while it scans.
 *
 * It settles a line only when it is certain to write the reference's bytes (workflows/render.py): one flat
 * object, every string escape and UTF-8 sequence checked, values of the column's JSON type and in the type's
 * range, numbers written as Python's repr writes them. Anything else -- a line the reference would reject,
 * an ISO 8601 time, a number it cannot write with certainty, nesting deeper than it follows -- is "declined":
 * the line's index and the CSV position where its row belongs are returned, and the Python reference
 * converts that line. So the reference stays the oracle and the fallback, byte for byte.
 *
 * Every read is bounded by the end of the line being scanned; every write goes through buf_reserve. */

#define _GNU_SOURCE  /* memmem */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Column kinds, as workflows/kernel.py encodes them from the type table. */
enum { K_UNSIGNED = 'u', K_SIGNED = 'i', K_NUMBER = 'n', K_TIME = 't', K_BOOL = 'b', K_STRING = 's' };

#define MAX_KEY 256           /* longer keys are declined */
#define MAX_SKIP_DEPTH 64     /* nesting followed in values that are not output columns */
#define MAX_DROPPED 64        /* distinct keys that are not output columns, per block */
#define MAX_NUMBER_TEXT 400   /* longer numbers are declined */

typedef struct {
    char *name;
    Py_ssize_t len;
    int kind;        /* one of K_* */
    int is_list;     /* a set or vector of `kind` */
    int plain_name;  /* the name holds no '"', '\\' or byte outside printable ASCII: matched undecoded */
    uint64_t high;   /* K_UNSIGNED: the largest value */
    /* A plain name of at most 15 bytes followed by its closing quote, as two words and the mask of their
     * bytes that count: matched against a key with two loads. */
    uint64_t quoted[2], quoted_mask[2];
} Column;

typedef struct {
    Py_ssize_t ncols;
    Column *cols;
    Py_ssize_t *table;   /* open addressing: column index + 1, 0 empty */
    size_t mask;
} Plan;

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

static int buf_grow(Buf *b, size_t extra);

static inline int buf_reserve(Buf *b, size_t extra) {
    return LIKELY(b->len + extra <= b->cap) ? 0 : buf_grow(b, extra);
}

static __attribute__((noinline)) int buf_grow(Buf *b, size_t extra) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

static inline int buf_put(Buf *b, const char *s, size_t n) {
    if (!n) return 0;  /* s may be the NULL data of an empty buffer */
    if (buf_reserve(b, n)) return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static inline int buf_byte(Buf *b, char c) {
    if (buf_reserve(b, 1)) return -1;
    b->data[b->len++] = c;
    return 0;
}

static uint64_t hash_bytes(const char *s, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* Bytes of a JSON string that need no attention: printable ASCII other than '"' and '\\' (1), and ','
 * (2), which makes a CSV cell quoted. */
static unsigned char string_class[256];

static void init_classes(void) {
    for (int c = 0x20; c < 0x80; c++) string_class[c] = 1;
    string_class['"'] = string_class['\\'] = 0;
    string_class[','] = 2;
}

/* ---- scanning state ------------------------------------------------------------------------------- */

/* REORDER: a line whose keys are not in column order (or repeat one) while its row is written straight into
 * the output; it is scanned again into per-column cells. */
typedef enum { OK = 0, DECLINE = 1, NOMEM = 2, REORDER = 3 } Status;

typedef struct {
    char *name;
    Py_ssize_t len;
    Py_ssize_t count;
    Py_ssize_t last_line;
} Dropped;

typedef struct {
    const Plan *plan;
    const unsigned char *p, *end;   /* the line being scanned */
    const unsigned char *limit;      /* the block's end: bytes up to it may be read ahead, eight at a time */
    Buf scratch;                     /* the line's cell texts, when its row is not written in order */
    size_t *cell_start, *cell_len;   /* per column, into scratch; len 0 = empty */
    Buf *direct;                     /* the output, while the line's cells arrive in column order; else NULL */
    Py_ssize_t last_column;          /* direct: the last column written on this line, -1 before the first */
    char key[MAX_KEY];
    Py_ssize_t key_len;
    Dropped dropped[MAX_DROPPED];
    int ndropped;
    int line_dropped[MAX_DROPPED];   /* indices into dropped[] seen on this line */
    int nline_dropped;
    int long_numbers;                /* strtod/snprintf usable: the C locale's decimal point is "." */
} Scan;

static inline void skip_ws(Scan *s) {
    if (LIKELY(s->p < s->end && *s->p > ' ')) return;
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n')) s->p++;
}

static int hex2(const unsigned char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 2; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

static int hex4(const unsigned char *p, unsigned *out) {
    unsigned high, low;
    if (hex2(p, &high) || hex2(p + 2, &low)) return -1;
    *out = high << 8 | low;
    return 0;
}

/* The length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates, at most U+10FFFF), or
 * 0 if it is not one. */
static int utf8_length(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    Py_ssize_t left = end - p;
    if (c >= 0xC2 && c <= 0xDF) return (left >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0;   /* overlong */
        if (c == 0xED && p[1] >= 0xA0) return 0;  /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0;
        if (c == 0xF4 && p[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

static int put_utf8(Buf *b, unsigned cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    return buf_put(b, u, n);
}

/* A JSON string at s->p (on its opening quote), decoded into `out` (NULL: only validated). Sets *special when
 * the text holds a character that CSV quotes (, " CR LF). */
/* Whether any byte of the eight in x is one scan_string stops at or marks: '"', '\\', ',', below 0x20 or
 * from 0x80 (bit tricks of "Bit Twiddling Hacks": a zero byte of x ^ c is a byte equal to c). */
static inline int word_needs_attention(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
#define HAS_ZERO(v) (((v) - ones) & ~(v) & highs)
    uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\'), comma = x ^ (ones * ',');
    return (HAS_ZERO(quote) | HAS_ZERO(backslash) | HAS_ZERO(comma) | ((x - ones * 0x20) & ~x & highs) | (x & highs)) != 0;
#undef HAS_ZERO
}

static Status scan_string(Scan *s, Buf *out, int *special) {
    const unsigned char *p = s->p + 1, *end = s->end;
    for (;;) {
        const unsigned char *run = p;
        unsigned cls;
        for (uint64_t x; end - p >= 8; p += 8) {  /* eight plain bytes at a time */
            memcpy(&x, p, 8);
            if (word_needs_attention(x)) break;
        }
        while (p < end && (cls = string_class[*p])) {
            if (cls == 2) *special = 1;
            p++;
        }
        if (out && p > run && buf_put(out, (const char *)run, (size_t)(p - run))) return NOMEM;
        if (p >= end) return DECLINE;
        unsigned c = *p;
        if (c == '"') { s->p = p + 1; return OK; }
        if (c < 0x20) return DECLINE;  /* a raw control character: invalid JSON */
        if (c >= 0x80) {
            int n = utf8_length(p, end);
            if (!n) return DECLINE;
            if (out && buf_put(out, (const char *)p, (size_t)n)) return NOMEM;
            p += n;
            continue;
        }
        /* a backslash */
        if (end - p < 2) return DECLINE;
        unsigned e = p[1];
        unsigned cp;
        switch (e) {
        case '"': cp = '"'; *special = 1; p += 2; break;
        case '\\': cp = '\\'; p += 2; break;
        case '/': cp = '/'; p += 2; break;
        case 'b': cp = '\b'; p += 2; break;
        case 'f': cp = '\f'; p += 2; break;
        case 'n': cp = '\n'; *special = 1; p += 2; break;
        case 'r': cp = '\r'; *special = 1; p += 2; break;
        case 't': cp = '\t'; p += 2; break;
        case 'u': {
            if (end - p < 6 || hex4(p + 2, &cp)) return DECLINE;
            p += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return DECLINE;  /* a lone low surrogate */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned low;
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &low)) return DECLINE;
                if (low < 0xDC00 || low > 0xDFFF) return DECLINE;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                p += 6;
            }
            if (cp == ',' || cp == '"' || cp == '\r' || cp == '\n') *special = 1;
            break;
        }
        default: return DECLINE;
        }
        if (out && put_utf8(out, cp)) return NOMEM;
    }
}

/* ---- numbers ---------------------------------------------------------------------------------------- */

typedef struct {
    int negative, is_int, has_exp;
    const unsigned char *text;   /* the whole number */
    Py_ssize_t text_len;
    const unsigned char *int_digits, *frac_digits;
    Py_ssize_t n_int, n_frac;
    long exp;                    /* the exponent as written (clamped) */
} Number;

/* The JSON number grammar at s->p. */
static Status scan_number(Scan *s, Number *n) {
    const unsigned char *p = s->p, *end = s->end;
    n->negative = n->has_exp = 0;
    n->frac_digits = NULL;
    n->n_frac = 0;
    n->exp = 0;
    n->text = p;
    if (p < end && *p == '-') { n->negative = 1; p++; }
    if (p >= end || *p < '0' || *p > '9') return DECLINE;
    n->int_digits = p;
    if (*p == '0') p++;
    else while (p < end && *p >= '0' && *p <= '9') p++;
    n->n_int = p - n->int_digits;
    n->is_int = 1;
    if (p < end && *p == '.') {
        p++;
        n->frac_digits = p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        n->n_frac = p - n->frac_digits;
        if (!n->n_frac) return DECLINE;
        n->is_int = 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-')) { eneg = *p == '-'; p++; }
        if (p >= end || *p < '0' || *p > '9') return DECLINE;
        long e = 0;
        while (p < end && *p >= '0' && *p <= '9') { if (e < 100000) e = e * 10 + (*p - '0'); p++; }
        n->exp = eneg ? -e : e;
        n->has_exp = 1;
        n->is_int = 0;
    }
    /* A number must end at a structural character or whitespace. */
    if (p < end && !(*p == ',' || *p == '}' || *p == ']' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        return DECLINE;
    n->text_len = p - n->text;
    if (n->text_len > MAX_NUMBER_TEXT) return DECLINE;
    s->p = p;
    return OK;
}

/* The magnitude of an integer's digits, or -1 beyond 2**64 - 1. */
static int int_magnitude(const Number *n, uint64_t *out) {
    uint64_t v = 0;
    if (n->n_int > 20) return -1;
    for (Py_ssize_t i = 0; i < n->n_int; i++) {
        uint64_t d = (uint64_t)(n->int_digits[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Python's repr of the float 0.D x 10**decpt (D: significant digits, no leading or trailing zero). */
static int put_repr(Buf *b, int negative, const char *d, int nd, int decpt) {
    if (buf_reserve(b, (size_t)nd + 32)) return NOMEM;
    char *o = b->data + b->len, *start = o;
    if (negative) *o++ = '-';
    if (decpt <= -4 || decpt > 16) {
        *o++ = d[0];
        if (nd > 1) { *o++ = '.'; memcpy(o, d + 1, (size_t)nd - 1); o += nd - 1; }
        int e = decpt - 1, magnitude = e < 0 ? -e : e;  /* e-05, e+16, e-300: two digits at least */
        *o++ = 'e';
        *o++ = e < 0 ? '-' : '+';
        if (magnitude >= 100) *o++ = (char)('0' + magnitude / 100);
        *o++ = (char)('0' + magnitude / 10 % 10);
        *o++ = (char)('0' + magnitude % 10);
    } else if (decpt <= 0) {
        *o++ = '0'; *o++ = '.';
        for (int i = 0; i < -decpt; i++) *o++ = '0';
        memcpy(o, d, (size_t)nd); o += nd;
    } else if (decpt >= nd) {
        memcpy(o, d, (size_t)nd); o += nd;
        for (int i = 0; i < decpt - nd; i++) *o++ = '0';
        *o++ = '.'; *o++ = '0';
    } else {
        memcpy(o, d, (size_t)decpt); o += decpt;
        *o++ = '.';
        memcpy(o, d + decpt, (size_t)(nd - decpt)); o += nd - decpt;
    }
    b->len += (size_t)(o - start);
    return OK;
}

/* The significant digits of a number and where its decimal point goes (value = 0.D x 10**decpt). */
static int significant_digits(const Number *n, char *d, int cap, long *decpt) {
    int nd = 0, leading = 1;
    long point = (long)n->n_int + n->exp;
    for (Py_ssize_t i = 0; i < n->n_int + n->n_frac; i++) {
        char c = (char)(i < n->n_int ? n->int_digits[i] : n->frac_digits[i - n->n_int]);
        if (leading && c == '0') { point--; continue; }
        leading = 0;
        if (nd >= cap) return -1;
        d[nd++] = c;
    }
    while (nd > 0 && d[nd - 1] == '0') nd--;
    *decpt = point;
    return nd;
}

/* Whether the nd-digit decimals around 0.D x 10**decpt are spaced wider than one unit in the last place of
 * the double they read as: then no other decimal of nd digits or fewer reads as the same double, and D is
 * that double's shortest round trip, its repr. Bounded from above with margin: the double is below
 * (first three digits + 1) x 10**(decpt - 3) <= 2**e, so its ulp is at most 2**(e - 53). */
static double powers_of_ten[620];  /* 10**(i - 310), filled when the module loads */

static double power_of_ten(long exponent) {
    return exponent < -310 || exponent > 309 ? pow(10.0, (double)exponent) : powers_of_ten[exponent + 310];
}

static inline uint64_t double_bits(double x) {
    uint64_t bits;
    memcpy(&bits, &x, 8);
    return bits;
}

static inline double bits_double(uint64_t bits) {
    double x;
    memcpy(&x, &bits, 8);
    return x;
}

static int digits_are_shortest(const char *d, int nd, long decpt) {
    double lead = 0;
    for (int i = 0; i < 3; i++) lead = lead * 10 + (i < nd ? d[i] - '0' : 0);
    double bound = (lead + 1) * power_of_ten(decpt - 3);
    if (!isnormal(bound)) return 0;
    /* 2**(e - 53) with 2**(e - 1) <= bound < 2**e: bound's own exponent field, less 52 (frexp and ldexp as
     * bit operations: this runs for most 16- and 17-digit numbers). */
    int field = (int)((double_bits(bound) >> 52) & 0x7ff) - 52;
    double ulp = field >= 1 ? bits_double((uint64_t)field << 52) : ldexp(1.0, field - 1023);
    return power_of_ten(decpt - nd) > ulp * 1.000001;
}

/* A float as repr writes it. When the number's own digits are certainly the shortest round trip (up to 15
 * significant digits always: distinct decimals of 15 digits or fewer are distinct doubles), they are written
 * as they are; otherwise through strtod and the shortest of %.14e, %.15e, %.16e that reads back to the same
 * double, as repr's shortest round trip does. */
static const uint64_t powers_of_five[28] = {
    1ULL, 5ULL, 25ULL, 125ULL, 625ULL, 3125ULL, 15625ULL, 78125ULL, 390625ULL, 1953125ULL, 9765625ULL,
    48828125ULL, 244140625ULL, 1220703125ULL, 6103515625ULL, 30517578125ULL, 152587890625ULL,
    762939453125ULL, 3814697265625ULL, 19073486328125ULL, 95367431640625ULL, 476837158203125ULL,
    2384185791015625ULL, 11920928955078125ULL, 59604644775390625ULL, 298023223876953125ULL,
    1490116119384765625ULL, 7450580596923828125ULL,
};

static int bit_length(unsigned __int128 v) {
    uint64_t high = (uint64_t)(v >> 64), low = (uint64_t)v;
    return high ? 128 - __builtin_clzll(high) : low ? 64 - __builtin_clzll(low) : 0;
}

/* a x 2**e compared with b x 10**k, exactly: -1 below, 0 equal, 1 above, 2 when it cannot tell (the
 * integers would not fit in 128 bits): compare a x 5**-k x 2**(e-k) with b (k < 0), or a x 2**(e-k) with
 * b x 5**k (k >= 0). */
static int compare_binary_decimal(uint64_t a, int e, uint64_t b, int k) {
    if (k < -27 || k > 27) return 2;
    unsigned __int128 left = a, right = b;
    if (k < 0) left *= powers_of_five[-k];
    else right *= powers_of_five[k];
    int shift = e - k;
    int lbits = bit_length(left) + (shift > 0 ? shift : 0), rbits = bit_length(right) + (shift < 0 ? -shift : 0);
    if (!left || !right) return left == right ? 0 : left ? 1 : -1;
    if (lbits != rbits) return lbits > rbits ? 1 : -1;
    if (lbits > 127) return 2;
    if (shift > 0) left <<= shift;
    else right <<= -shift;
    return left == right ? 0 : left > right ? 1 : -1;
}

/* A positive normal double as mantissa x 2**exponent, the mantissa of 53 bits. */
static void binary_parts(double value, uint64_t *mantissa, int *exponent) {
    uint64_t bits = double_bits(value);
    *mantissa = (bits & ((1ULL << 52) - 1)) | 1ULL << 52;
    *exponent = (int)((bits >> 52) & 0x7ff) - 1075;
}

/* Compare a positive double with q x 10**k exactly (as compare_binary_decimal). */
static int compare_decimal(double value, uint64_t q, int k) {
    uint64_t mantissa;
    int exponent;
    binary_parts(value, &mantissa, &exponent);
    return compare_binary_decimal(mantissa, exponent, q, k);
}

/* Whether q x 10**k reads back as the double mantissa x 2**exponent: it lies between the midpoints to the
 * doubles around, a midpoint itself going to the even mantissa. At a power of two (mantissa 2**52, above the
 * smallest normal) the double below is half as far as the one above, so the lower midpoint is a quarter of
 * a unit below. -1 when it cannot tell. */
static int reads_back(uint64_t mantissa, int exponent, uint64_t q, int k) {
    int low = mantissa == 1ULL << 52 && exponent > -1074
        ? compare_binary_decimal(4 * mantissa - 1, exponent - 2, q, k)
        : compare_binary_decimal(2 * mantissa - 1, exponent - 1, q, k);
    int high = compare_binary_decimal(2 * mantissa + 1, exponent - 1, q, k);
    if (low == 2 || high == 2) return -1;
    int even = !(mantissa & 1);
    return (low < 0 || (low == 0 && even)) && (high > 0 || (high == 0 && even));
}

/* The integer that nd decimal digits (at most 19) spell. */
static uint64_t digits_value(const char *d, int nd) {
    uint64_t q = 0;
    for (int i = 0; i < nd; i++) q = q * 10 + (uint64_t)(d[i] - '0');
    return q;
}

/* Whether the digits D (nd of them, 16 or 17) of 0.D x 10**decpt are repr's digits for the double they read
 * as, decided exactly without strtod: no decimal of fewer digits reads back as that double, and neither
 * neighbour of D of as many digits is nearer to it: 1. With `nearest` (nd chars), 2 when that nearer
 * neighbour is repr's digits instead, written there. 0 when it cannot tell (the caller then asks strtod). */
static int digits_are_repr(const char *d, int nd, long decpt, char *nearest) {
    uint64_t q = digits_value(d, nd);
    int k = (int)(decpt - nd);
    if (k < -26 || k > 26) return 0;
    /* The double D reads as: long double arithmetic gives it or a neighbour, checked exactly. */
    long double v = (long double)q;
    v = k < 0 ? v / (long double)powers_of_five[-k] : v * (long double)powers_of_five[k];
    double x = (double)ldexpl(v, k);
    uint64_t mantissa = 0;
    int exponent = 0, found = 0;
    /* x and its neighbours above and below (x is positive: its bits count up with it). */
    double candidates[3] = {x, bits_double(double_bits(x) + 1), bits_double(double_bits(x) - 1)};
    for (int i = 0; i < 3 && !found; i++) {
        if (!isnormal(candidates[i])) return 0;
        binary_parts(candidates[i], &mantissa, &exponent);
        int back = reads_back(mantissa, exponent, q, k);
        if (back < 0) return 0;
        found = back;
    }
    if (!found) return 0;
    /* No shorter decimal: the decimals of nd - 1 digits on either side of D do not read back. */
    uint64_t shorter = q / 10;
    for (uint64_t c = shorter; c <= shorter + 1; c++) {
        int back = reads_back(mantissa, exponent, c, k + 1);
        if (back != 0) return 0;
    }
    /* The nearest of nd digits: the double lies within half a unit of D. */
    int above = compare_binary_decimal(mantissa, exponent, 10 * q + 5, k - 1);
    int below = compare_binary_decimal(mantissa, exponent, 10 * q - 5, k - 1);
    if (above == 2 || below == 2) return 0;
    if (above == -1 && below == 1) return 1;
    /* Otherwise repr's digits are a neighbour's, or D at a tie, away from a power of two (there the doubles
     * below are spaced half as wide, and the nearest decimal need not be the one that reads back):
     * - exactly half way between D and a neighbour (a binary fraction written to one digit less than its own,
     *   0.07645797729492188 for 0.076457977294921875): repr takes the even one, D when it is;
     * - a neighbour nearer than D (Grisu's last digit: Zeek's 0.000025987625122070313 for repr's
     *   2.5987625122070312e-05): the nearest reads back too, and is repr's digits. */
    if (mantissa == 1ULL << 52) return 0;
    int tie = above == 0 || below == 0;
    if (tie && (d[nd - 1] - '0') % 2 == 0) return 1;
    if (!nearest) return 0;
    uint64_t r = above >= 0 ? q + 1 : q - 1;
    if (r / 10 != q / 10) return 0;  /* a carry or a borrow: the long way */
    if (!tie && (compare_binary_decimal(mantissa, exponent, 10 * r + 5, k - 1) != -1
                 || compare_binary_decimal(mantissa, exponent, 10 * r - 5, k - 1) != 1))
        return 0;
    if (reads_back(mantissa, exponent, r, k) != 1) return 0;
    memcpy(nearest, d, (size_t)nd);
    nearest[nd - 1] = (char)('0' + r % 10);
    return 2;
}

/* 10**n as long doubles, n = 0..27: exact (5**27 < 2**64 fits the 64-bit significand). */
static long double long_powers_of_ten[28];

/* The decimal digits of c (below 10**19) into d; their count. */
static int put_digits(uint64_t c, char *d) {
    char tmp[20];
    int n = 0;
    do { tmp[n++] = (char)('0' + c % 10); c /= 10; } while (c);
    for (int i = 0; i < n; i++) d[i] = tmp[n - 1 - i];
    return n;
}

/* repr's digits of the double that D reads as, D = 0.d x 10**decpt with nd significant digits (at most 17,
 * the last of scale 10**k, -27 <= k < 0), exactly and without strtod. With that double x = m x 2**e and
 * y = x / 10**k, the decimals of scale 10**k that read back as x are the integers lo..hi between the
 * midpoints to x's neighbours (y -+ half a unit of x, a midpoint itself belonging to the even m): exact in
 * 128 bits, as multiples of 2**-sh. repr's digits are the shortest of them, and of those the nearest to x.
 * Writes them to `out` and sets *out_decpt; returns their count, or 0 when it cannot tell (x a power of
 * two, whose gap below is narrower; a tie; the limits): the caller then takes the long way. */
static int shortest_digits(const char *d, int nd, long decpt, char *out, long *out_decpt) {
    int k = (int)(decpt - nd), n = -k;
    uint64_t q = digits_value(d, nd);
    if (nd > 17 || n < 1 || n > 27 || !q) return 0;
    /* One rounding in long double, one more to double: x or a neighbour of it, settled below. */
    double x = (double)((long double)q / long_powers_of_ten[n]);
    uint64_t five = powers_of_five[n], m = 0, lo = 0, hi = 0;
    unsigned __int128 mid = 0, mask = 0;
    int sh = 0;
    for (int attempt = 0;; attempt++) {
        if (!isnormal(x) || attempt > 2) return 0;
        int e;
        binary_parts(x, &m, &e);
        if (m == 1ULL << 52) return 0;
        sh = 2 - (e + n);  /* y = 4 m 5**n x 2**-sh */
        if (sh <= 0 || sh >= 120) return 0;
        mid = (unsigned __int128)(4 * m) * five;
        mask = ((unsigned __int128)1 << sh) - 1;
        unsigned __int128 gap = (unsigned __int128)(2 * five), low = mid - gap, high = mid + gap;
        if ((high >> sh) >> 63) return 0;
        int odd = (int)(m & 1);
        lo = (uint64_t)(low >> sh) + ((low & mask) != 0 || odd);  /* ceil; an exact midpoint only for even m */
        hi = (uint64_t)(high >> sh) - ((high & mask) == 0 && odd);
        if (q < lo) x = bits_double(double_bits(x) - 1);
        else if (q > hi) x = bits_double(double_bits(x) + 1);
        else break;
    }
    /* The shortest: the most trailing zeros j that a decimal of lo..hi can have. */
    int j = 0;
    uint64_t first = lo, last = hi, unit = 1;
    while (j < nd - 1) {
        uint64_t f = first / 10 + (first % 10 != 0), l = last / 10;
        if (f > l) break;
        first = f; last = l; unit *= 10; j++;
    }
    /* The nearest to y of those: y / 10**j rounded, a tie left to the long way. */
    uint64_t whole = (uint64_t)(mid >> sh), c = whole / unit, rest = whole % unit;
    unsigned __int128 fraction = mid & mask;
    if (j == 0) {
        unsigned __int128 half = (unsigned __int128)1 << (sh - 1);
        if (fraction == half) return 0;
        c += fraction > half;
    } else {
        uint64_t half = unit / 2;
        if (rest == half && !fraction) return 0;
        c += rest > half || (rest == half && fraction);
    }
    if (c < first || c > last) return 0;
    /* c is D's first nd - j digits, or one more or less than them: the digits of D, the last ones moved. */
    int len = nd - j;
    uint64_t prefix = q / unit;
    memcpy(out, d, (size_t)len);
    if (c == prefix + 1) {
        int i = len - 1;
        while (i >= 0 && out[i] == '9') out[i--] = '0';
        if (i < 0) len = put_digits(c, out);
        else out[i]++;
    } else if (c + 1 == prefix && out[len - 1] != '0') {
        out[len - 1]--;
    } else if (c != prefix) {
        len = put_digits(c, out);
    }
    if (len != nd - j) return 0;  /* a carry into a new digit: the long way */
    while (len > 1 && out[len - 1] == '0') len--;
    *out_decpt = decpt;
    return len;
}

/* Whether a number written in fixed notation, without an exponent, is already its repr: no trailing zero
 * in its fraction, a point repr writes in fixed notation too (-4 < decpt <= 16), and digits that are the
 * shortest round trip. Zeek's times (1591367999.305988) and most of its intervals are. */
static int text_is_repr(const Number *n) {
    if (n->has_exp || !n->n_frac || n->frac_digits[n->n_frac - 1] == '0') return 0;
    const unsigned char *digits = n->int_digits;
    Py_ssize_t nd = n->n_int + n->n_frac;
    long decpt = (long)n->n_int;
    if (n->int_digits[0] == '0') {  /* 0.000ddd: the significant digits start in the fraction */
        Py_ssize_t zeros = 0;
        while (zeros < n->n_frac && n->frac_digits[zeros] == '0') zeros++;
        digits = n->frac_digits + zeros;
        nd = n->n_frac - zeros;
        decpt = -(long)zeros;
    }
    if (decpt <= -4 || decpt > 16 || nd > 17) return 0;
    if (nd <= 15) return 1;
    char d[17];
    for (Py_ssize_t i = 0, j = 0; i < nd; j++) {  /* the significant digits, across the point */
        if (digits + j == n->int_digits + n->n_int) continue;  /* the '.' */
        d[i++] = (char)digits[j];
    }
    if (digits_are_shortest(d, (int)nd, decpt)) return 1;
    char r[20];
    long rpt;
    int nr = shortest_digits(d, (int)nd, decpt, r, &rpt);
    if (nr) return nr == nd && !memcmp(r, d, (size_t)nd);
    return digits_are_repr(d, (int)nd, decpt, NULL) == 1;
}

static Status put_float(Scan *s, Buf *b, const Number *n) {
    if (text_is_repr(n)) return buf_put(b, (const char *)n->text, (size_t)n->text_len) ? NOMEM : OK;
    char d[MAX_NUMBER_TEXT + 8];
    long decpt;
    int nd = significant_digits(n, d, (int)sizeof d, &decpt);
    if (nd < 0) return DECLINE;
    if (nd == 0) {  /* zero, of either sign */
        return buf_put(b, n->negative ? "-0.0" : "0.0", n->negative ? 4 : 3) ? NOMEM : OK;
    }
    if (decpt <= -300 || decpt >= 300) return DECLINE;  /* near the limits of a double */
    if (nd <= 15 || (nd <= 17 && digits_are_shortest(d, nd, decpt)))
        return put_repr(b, n->negative, d, nd, (int)decpt) ? NOMEM : OK;
    if (nd <= 17) {
        char r[20];
        long rpt;
        int nr = shortest_digits(d, nd, decpt, r, &rpt);
        if (nr) return put_repr(b, n->negative, r, nr, (int)rpt) ? NOMEM : OK;
    }
    char nearest[17];
    int repr = nd <= 17 ? digits_are_repr(d, nd, decpt, nearest) : 0;
    if (repr) return put_repr(b, n->negative, repr == 2 ? nearest : d, nd, (int)decpt) ? NOMEM : OK;
    if (!s->long_numbers) return DECLINE;
    char text[MAX_NUMBER_TEXT + 1];
    memcpy(text, n->text, (size_t)n->text_len);
    text[n->text_len] = 0;
    double value = strtod(text, NULL);
    int binary_exponent;
    /* At a power of two the doubles below are spaced half as wide as above, and the nearest decimal of a
     * precision need not be the one that reads back: left to the reference. */
    if (fabs(frexp(value, &binary_exponent)) == 0.5) return DECLINE;
    /* The double's 17 significant digits, correctly rounded (17 always read back). */
    char exact[40];
    snprintf(exact, sizeof exact, "%.16e", fabs(value));
    char d17[17];
    int k = 0;
    const char *q = exact;
    for (; *q && *q != 'e' && k < 17; q++) if (*q != '.') d17[k++] = *q;
    if (k != 17 || *q != 'e') return DECLINE;
    int decpt17 = (int)strtol(q + 1, NULL, 10) + 1;
    /* repr's shortest round trip: the 15- or 16-digit rounding of those digits when it reads back (the
     * 15-digit one is unique; the 16-digit one is the nearest), else the 17 digits. Rounding the 17 digits
     * again equals rounding the double itself unless they end exactly on a half: declined. */
    for (int len = 15; len <= 16; len++) {
        int ambiguous = d17[len] == '5';
        for (int i = len + 1; i < 17 && ambiguous; i++) ambiguous = d17[i] == '0';
        int round_up = d17[len] >= '5';
        if (ambiguous) {
            /* The 17 digits end on a half of the shorter length: the double itself decides. */
            uint64_t q = 0;
            for (int i = 0; i <= len; i++) q = q * 10 + (uint64_t)(d17[i] - '0');
            int side = compare_decimal(fabs(value), q, decpt17 - len - 1);
            if (side == 2) return DECLINE;
            if (side == 0 && len == 15) continue;  /* a tie of 15 digits: neither neighbour reads back */
            /* A tie of 16 digits: repr rounds half to even (both neighbours read back, or neither). */
            round_up = side == 0 ? (d17[len - 1] - '0') % 2 : side > 0;
        }
        char c[18];
        memcpy(c, d17, (size_t)len);
        int cpt = decpt17;
        if (round_up) {
            int i = len - 1;
            while (i >= 0 && c[i] == '9') c[i--] = '0';
            if (i >= 0) c[i]++;
            else { memmove(c + 1, c, (size_t)len - 1); c[0] = '1'; cpt++; }
        }
        char candidate[48];
        snprintf(candidate, sizeof candidate, "%c.%.*se%d", c[0], len - 1, c + 1, cpt - 1);
        if (strtod(candidate, NULL) == fabs(value)) {
            int nd2 = len;
            while (nd2 > 1 && c[nd2 - 1] == '0') nd2--;
            return put_repr(b, n->negative, c, nd2, cpt) ? NOMEM : OK;
        }
    }
    int nd17 = 17;
    while (nd17 > 1 && d17[nd17 - 1] == '0') nd17--;
    return put_repr(b, n->negative, d17, nd17, decpt17) ? NOMEM : OK;
}

/* ---- values --------------------------------------------------------------------------------------- */

static Status skip_value(Scan *s, int depth);

static Status expect_literal(Scan *s, const char *word, size_t len) {
    if ((size_t)(s->end - s->p) < len || memcmp(s->p, word, len)) return DECLINE;
    s->p += len;
    if (s->p < s->end && !(*s->p == ',' || *s->p == '}' || *s->p == ']' || *s->p == ' ' || *s->p == '\t'
                           || *s->p == '\r' || *s->p == '\n'))
        return DECLINE;
    return OK;
}

/* Validate a value that is not an output column, as strictly as the reference's parser does. */
static Status skip_value(Scan *s, int depth) {
    if (s->p >= s->end) return DECLINE;
    unsigned c = *s->p;
    int special = 0;
    if (c == '"') return scan_string(s, NULL, &special);
    if (c == 't') return expect_literal(s, "true", 4);
    if (c == 'f') return expect_literal(s, "false", 5);
    if (c == 'n') return expect_literal(s, "null", 4);
    if (c == '-' || (c >= '0' && c <= '9')) {
        Number n;
        Status st = scan_number(s, &n);
        /* An exponent may make a double overflow (the reference's parser rejects infinity). */
        if (st == OK && (n.has_exp || n.n_int > 300)) return DECLINE;
        return st;
    }
    if (c != '[' && c != '{') return DECLINE;
    if (depth >= MAX_SKIP_DEPTH) return DECLINE;
    unsigned close = c == '[' ? ']' : '}';
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) { s->p++; return OK; }
    for (;;) {
        Status st;
        if (close == '}') {
            if (s->p >= s->end || *s->p != '"') return DECLINE;
            if ((st = scan_string(s, NULL, &special))) return st;
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':') return DECLINE;
            s->p++;
            skip_ws(s);
        }
        if ((st = skip_value(s, depth + 1))) return st;
        skip_ws(s);
        if (s->p >= s->end) return DECLINE;
        if (*s->p == ',') { s->p++; skip_ws(s); continue; }
        if (*s->p == close) { s->p++; return OK; }
        return DECLINE;
    }
}

static Status number_value(Scan *s, const Column *col, Buf *out, int as_float);

static int digits(const unsigned char *p, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (p[i] - '0');
    return v;
}

/* A time string at s->p (on its opening quote) in the form Zeek's JSON writer uses for JSON::TS_ISO8601,
 * "YYYY-MM-DDTHH:MM:SS.ffffffZ": checked as the reference checks it (a real calendar date and time that
 * datetime.fromisoformat reads; in UTC, years 1 to 9999 fit every output format) and written as it is, as
 * the reference writes a time string. Any other form (an offset, other fraction digits, a week date, an
 * escape...) is the reference's to judge: declined. */
static Status iso_time_value(Scan *s, Buf *out) {
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    static const int month_days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const unsigned char *p = s->p + 1;
    const int n = (int)sizeof shape - 1;
    if (s->end - p < n + 1 || p[n] != '"') return DECLINE;
    for (int i = 0; i < n; i++)
        if (shape[i] == 'd' ? p[i] < '0' || p[i] > '9' : p[i] != (unsigned char)shape[i]) return DECLINE;
    int year = digits(p, 4), month = digits(p + 5, 2), day = digits(p + 8, 2);
    int leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > month_days[month - 1]
        || (month == 2 && day == 29 && !leap))
        return DECLINE;
    if (digits(p + 11, 2) > 23 || digits(p + 14, 2) > 59 || digits(p + 17, 2) > 59) return DECLINE;
    if (buf_put(out, (const char *)p, (size_t)n)) return NOMEM;
    s->p = p + n + 1;
    return OK;
}

/* One scalar value of `kind` written as the reference renders it, into `out` (the raw cell text). */
static Status scalar_value(Scan *s, const Column *col, Buf *out, int *special) {
    if (s->p >= s->end) return DECLINE;
    unsigned c = *s->p;
    if (c == 'n') return expect_literal(s, "null", 4);  /* null: an empty field or element */
    switch (col->kind) {
    case K_STRING:
        if (c != '"') return DECLINE;
        return scan_string(s, out, special);
    case K_BOOL:
        if (c == 't') { Status st = expect_literal(s, "true", 4); return st ? st : (buf_put(out, "true", 4) ? NOMEM : OK); }
        if (c == 'f') { Status st = expect_literal(s, "false", 5); return st ? st : (buf_put(out, "false", 5) ? NOMEM : OK); }
        return DECLINE;
    case K_UNSIGNED: case K_SIGNED: case K_NUMBER: case K_TIME:
        if (c == '"' && col->kind == K_TIME) return iso_time_value(s, out);
        if (c != '-' && (c < '0' || c > '9')) return DECLINE;
        return number_value(s, col, out, 0);
    }
    return DECLINE;
}

/* A number of a count, port, int, interval, double or time column at s->p, checked against the column's rule
 * and written as the reference writes it. as_float: the value is a float whatever its text (TSV's float()). */
static Status number_value(Scan *s, const Column *col, Buf *out, int as_float) {
    if (col->kind == K_UNSIGNED && s->limit - s->p >= 8) {
        /* Most counts and ports: up to seven digits, found eight bytes at a time (a byte is a digit when its
         * xor with '0' is below 10), that fit the column whatever they are. */
        static const uint64_t widest[9] = {0, 9, 99, 999, 9999, 99999, 999999, 9999999, 99999999};
        const unsigned char *p = s->p;
        uint64_t x, digit_bits;
        memcpy(&x, p, 8);
        digit_bits = x ^ 0x3030303030303030ULL;
        uint64_t other = (((digit_bits & 0x7F7F7F7F7F7F7F7FULL) + 0x7676767676767676ULL) | digit_bits)
                         & 0x8080808080808080ULL;
        Py_ssize_t n = other ? __builtin_ctzll(other) >> 3 : 8;
        if (n > s->end - p) n = s->end - p;
        const unsigned char *q = p + n;
        int fits = col->high >= widest[n];
        if (!fits && n >= 1 && n <= 7) {  /* a port of five digits: its value decides */
            uint64_t v = 0;
            for (Py_ssize_t i = 0; i < n; i++) v = v * 10 + (uint64_t)(p[i] - '0');
            fits = v <= col->high;
        }
        if (fits && n >= 1 && n <= 7 && (*p != '0' || n == 1)
            && (q == s->end || *q == ',' || *q == '}' || *q == ']' || *q == ' ')) {
            if (buf_reserve(out, 8)) return NOMEM;
            memcpy(out->data + out->len, p, 8);
            out->len += (size_t)n;
            s->p = q;
            return OK;
        }
    }
    if (col->kind == K_UNSIGNED) {
        /* The common case in one pass: up to 19 digits (no overflow), no sign, no leading zero, ending
         * where a number ends (a TSV field's end is s->end); anything else takes the general way below. */
        const unsigned char *p = s->p, *q = p, *end = s->end;
        uint64_t v = 0;
        if (q < end && *q >= '1' && *q <= '9')
            while (q < end && *q >= '0' && *q <= '9' && q - p < 19) v = v * 10 + (uint64_t)(*q++ - '0');
        else if (q < end && *q == '0')
            q++;
        if (q > p && (q == end || *q == ',' || *q == '}' || *q == ']' || *q == ' ') && v <= col->high) {
            size_t n = (size_t)(q - p);
            if (buf_reserve(out, n)) return NOMEM;
            for (size_t i = 0; i < n; i++) out->data[out->len + i] = (char)p[i];
            out->len += n;
            s->p = q;
            return OK;
        }
    }
    {
        Number n;
        Status st = scan_number(s, &n);
        if (st) return st;
        if (as_float && (col->kind == K_NUMBER || col->kind == K_TIME)) n.is_int = 0;
        if (n.is_int) {
            uint64_t mag;
            /* Beyond 64 bits the reference's parser gives a float; -0 an integer 0. */
            if (int_magnitude(&n, &mag) || (n.negative && (mag == 0 || mag > (1ULL << 63)))) return DECLINE;
            if (col->kind == K_UNSIGNED && (n.negative || mag > col->high)) return DECLINE;
            if (col->kind == K_SIGNED && !n.negative && mag > (uint64_t)INT64_MAX) return DECLINE;
            if (col->kind == K_TIME) {
                /* Epoch seconds below 10**11, milliseconds from there: years 1 to 9999 only. */
                if (n.negative ? mag > 62135596800ULL : (mag >= 100000000000ULL && mag > 253402300799999ULL))
                    return DECLINE;
            }
            return buf_put(out, (const char *)n.text, (size_t)n.text_len) ? NOMEM : OK;
        }
        if (col->kind == K_UNSIGNED || col->kind == K_SIGNED) return DECLINE;
        if (col->kind == K_TIME) {
            /* Well inside years 1..9999: below 10**11 s, or 10**10 s before 1970. Without an exponent the
             * integer digits tell (Zeek's times: 1591367999.305988). */
            long decpt = (long)n.n_int;
            if (n.has_exp || n.int_digits[0] == '0') {
                char d[MAX_NUMBER_TEXT + 8];
                if (significant_digits(&n, d, (int)sizeof d, &decpt) < 0) return DECLINE;
            }
            if (decpt > (n.negative ? 10 : 11)) return DECLINE;
        }
        return put_float(s, out, &n);
    }
}

/* Quote the cell text that starts at `start` of `b` in place, as RFC 4180 wants (quotes doubled). */
static Status quote_in_place(Buf *b, size_t start) {
    size_t n = b->len - start, quotes = 0;
    for (size_t i = start; i < b->len; i++) quotes += b->data[i] == '"';
    if (buf_reserve(b, quotes + 2)) return NOMEM;
    char *text = b->data + start;
    /* From the end backwards, so nothing is overwritten before it is moved. */
    char *o = text + n + quotes + 2;
    *--o = '"';
    for (size_t i = n; i-- > 0;) {
        *--o = text[i];
        if (text[i] == '"') *--o = '"';
    }
    *--o = '"';
    b->len += quotes + 2;
    return OK;
}

/* Where column `column`'s cell is written: straight into the output while the line's columns arrive in
 * order (the commas of the empty cells before it written first), else into the scratch buffer. */
/* Direct: the commas that put the output where column `column`'s cell starts (column 0: none). */
static inline Status commas_up_to(Scan *s, Py_ssize_t column) {
    Py_ssize_t commas = column - (s->last_column < 0 ? 0 : s->last_column);
    Buf *out = s->direct;
    if (buf_reserve(out, (size_t)commas + 1)) return NOMEM;  /* + 1: room for the row's newline */
    char *o = out->data + out->len;
    if (LIKELY(commas == 1)) *o = ',';  /* mostly one: no memset call */
    else if (commas > 1) memset(o, ',', (size_t)commas);
    out->len += (size_t)(commas > 0 ? commas : 0);
    return OK;
}

static inline Status cell_begin(Scan *s, Py_ssize_t column, Buf **target) {
    if (!s->direct) { *target = &s->scratch; return OK; }
    if (column <= s->last_column) return REORDER;
    if (commas_up_to(s, column)) return NOMEM;
    *target = s->direct;
    return OK;
}

/* The cell of `column` is complete from `start` of its target. */
static inline void cell_end(Scan *s, Py_ssize_t column, size_t start) {
    if (s->direct) { s->last_column = column; return; }
    s->cell_start[column] = start;
    s->cell_len[column] = s->scratch.len - start;
}

/* A line about to be scanned: no cell written yet. */
static void row_begin(Scan *s, Py_ssize_t ncols) {
    s->nline_dropped = 0;
    s->last_column = -1;
    if (s->direct) return;
    s->scratch.len = 0;
    for (Py_ssize_t i = 0; i < ncols; i++) s->cell_len[i] = 0;
}

/* The row of a line scanned in order: the commas of its empty last cells and the newline. */
static Status row_end_direct(Scan *s, Py_ssize_t ncols) {
    if (commas_up_to(s, ncols - 1)) return NOMEM;
    s->direct->data[s->direct->len++] = '\n';
    return OK;
}

/* A column's value as its CSV cell (see cell_begin). */
static Status column_value(Scan *s, const Column *col, Py_ssize_t column) {
    Buf *sc;
    int special = 0;
    Status st = cell_begin(s, column, &sc);
    if (st) return st;
    size_t start = sc->len;
    if (col->is_list && s->p < s->end && *s->p == '[') {
        s->p++;
        skip_ws(s);
        if (s->p < s->end && *s->p == ']') s->p++;
        else for (int first = 1;; first = 0) {
            if (!first) {
                if (buf_byte(sc, ',')) return NOMEM;
                special = 1;
            }
            if (s->p < s->end && (*s->p == '[' || *s->p == '{')) return DECLINE;
            if ((st = scalar_value(s, col, sc, &special))) return st;
            skip_ws(s);
            if (s->p >= s->end) return DECLINE;
            if (*s->p == ',') { s->p++; skip_ws(s); continue; }
            if (*s->p == ']') { s->p++; break; }
            return DECLINE;
        }
    } else if (col->is_list) {
        if ((st = expect_literal(s, "null", 4))) return st;
    } else if ((st = scalar_value(s, col, sc, &special))) {
        return st;
    }
    if (special && (st = quote_in_place(sc, start))) return st;
    cell_end(s, column, start);
    return OK;
}

/* n bytes of a and b equal, compared eight at a time (names are short; a libc call costs more). */
static inline int same_bytes(const unsigned char *a, const char *b, Py_ssize_t n) {
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) return 0;
    }
    for (; i < n; i++) if (a[i] != (unsigned char)b[i]) return 0;
    return 1;
}

static Py_ssize_t find_column(const Plan *plan, const char *key, Py_ssize_t len, Py_ssize_t hint) {
    /* Zeek writes keys in column order, skipping unset ones: look a few columns on before hashing. */
    for (Py_ssize_t i = hint; i < plan->ncols && i < hint + 4; i++)
        if (plan->cols[i].len == len && !memcmp(plan->cols[i].name, key, (size_t)len)) return i;
    size_t i = (size_t)hash_bytes(key, len) & plan->mask;
    for (;;) {
        Py_ssize_t slot = plan->table[i];
        if (!slot) return -1;
        const Column *c = &plan->cols[slot - 1];
        if (c->len == len && !memcmp(c->name, key, (size_t)len)) return slot - 1;
        i = (i + 1) & plan->mask;
    }
}

/* Note a key that is not an output column; counted once per line when the line is written. */
static Status note_dropped(Scan *s) {
    int k;
    for (k = 0; k < s->ndropped; k++)
        if (s->dropped[k].len == s->key_len && !memcmp(s->dropped[k].name, s->key, (size_t)s->key_len)) break;
    if (k == s->ndropped) {
        if (s->ndropped >= MAX_DROPPED) return DECLINE;
        char *name = malloc((size_t)s->key_len + 1);
        if (!name) return NOMEM;
        memcpy(name, s->key, (size_t)s->key_len);
        s->dropped[k] = (Dropped){name, s->key_len, 0, -1};
        s->ndropped++;
    }
    if (s->nline_dropped >= MAX_DROPPED) return DECLINE;
    s->line_dropped[s->nline_dropped++] = k;
    return OK;
}

/* The key at s->p (on its opening quote): the output column it names, or -1 with the decoded key in s->key.
 * The common case first: the key is, byte for byte, one of the next few columns' names (a name holds no
 * quote or backslash, so a match followed by '"' is the whole key, unescaped). */
static Status read_key(Scan *s, Py_ssize_t hint, Py_ssize_t *column) {
    const Plan *plan = s->plan;
    const unsigned char *k = s->p + 1;
    int wide = s->end - k >= 16;  /* two words of the key readable */
    uint64_t k0 = 0, k1 = 0;
    if (wide) { memcpy(&k0, k, 8); memcpy(&k1, k + 8, 8); }
    for (Py_ssize_t i = hint; i < plan->ncols && i < hint + 4; i++) {
        const Column *c = &plan->cols[i];
        if (!c->plain_name) continue;
        int match = wide && c->quoted_mask[0]
            ? !((k0 ^ c->quoted[0]) & c->quoted_mask[0]) && !((k1 ^ c->quoted[1]) & c->quoted_mask[1])
            : s->end - k > c->len && k[c->len] == '"' && same_bytes(k, c->name, c->len);
        if (match) {
            *column = i;
            s->p = k + c->len + 1;
            return OK;
        }
    }
    /* Undecoded bytes when the key has no escape, else decoded. */
    const unsigned char *q = k;
    while (q < s->end && string_class[*q]) q++;
    if (q < s->end && *q == '"') {
        if (q - k > MAX_KEY) return DECLINE;
        memcpy(s->key, k, (size_t)(q - k));
        s->key_len = q - k;
        s->p = q + 1;
    } else {
        Buf key = {0};
        int special = 0;
        Status st = scan_string(s, &key, &special);
        if (st || key.len > MAX_KEY) { free(key.data); return st ? st : DECLINE; }
        if (key.len) memcpy(s->key, key.data, key.len);
        s->key_len = (Py_ssize_t)key.len;
        free(key.data);
    }
    *column = find_column(plan, s->key, s->key_len, hint);
    return OK;
}

/* One non-blank line (s->p .. s->end, surrounding blanks trimmed) into its cells. */
static Status scan_line(Scan *s) {
    const Plan *plan = s->plan;
    Status st;
    row_begin(s, plan->ncols);
    if (*s->p != '{') return DECLINE;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') { s->p++; return s->p == s->end ? OK : DECLINE; }
    Py_ssize_t hint = 0;
    for (;;) {
        if (s->p >= s->end || *s->p != '"') return DECLINE;
        Py_ssize_t column;
        if ((st = read_key(s, hint, &column))) return st;
        if (LIKELY(s->end - s->p >= 2 && s->p[0] == ':' && s->p[1] > ' ')) {  /* compact: "key":value */
            s->p++;
        } else {
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':') return DECLINE;
            s->p++;
            skip_ws(s);
        }
        if (column >= 0) {
            if ((st = column_value(s, &plan->cols[column], column))) return st;
            hint = column + 1;
        } else {
            if ((st = skip_value(s, 0))) return st;
            if ((st = note_dropped(s))) return st;
        }
        if (LIKELY(s->end - s->p >= 2 && s->p[0] == ',' && s->p[1] == '"')) {  /* compact: value,"key" */
            s->p++;
            continue;
        }
        skip_ws(s);
        if (s->p >= s->end) return DECLINE;
        if (*s->p == ',') { s->p++; skip_ws(s); continue; }
        if (*s->p == '}') { s->p++; break; }
        return DECLINE;
    }
    return s->p == s->end ? OK : DECLINE;
}

/* ---- Zeek TSV ------------------------------------------------------------------------------------- */

/* A TSV log's layout: its header's fields in order, each with the output column it fills (or -1: a field that
 * is not an output column, validated and counted as dropped) and the rule of its type. */
typedef struct {
    Py_ssize_t nfields, ncols;
    Column *fields;          /* name, kind, is_list, high of each field's type */
    Py_ssize_t *out;         /* the output column of each field, or -1 */
    Buf separator, set_separator, empty, unset;
} TsvPlan;

static inline int is_marker(const unsigned char *a, const unsigned char *b, const Buf *marker) {
    return (size_t)(b - a) == marker->len && !memcmp(a, marker->data, marker->len);
}

/* The next separator from p on (before b), or NULL. Fields are short: a one-byte separator (Zeek's tab) is
 * looked for inline, cheaper than a call per field. */
static inline const unsigned char *next_separator(const unsigned char *p, const unsigned char *b, const Buf *sep) {
    if (sep->len != 1) return memmem(p, (size_t)(b - p), sep->data, sep->len);
    unsigned char c = (unsigned char)sep->data[0];
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL, pattern = ones * c;
    for (uint64_t x; b - p >= 8; p += 8) {  /* eight bytes at a time: the lowest flagged byte is the first */
        memcpy(&x, p, 8);
        x ^= pattern;
        uint64_t found = (x - ones) & ~x & highs;
        if (found) return p + (__builtin_ctzll(found) >> 3);
    }
    while (p < b && *p != c) p++;
    return p < b ? p : NULL;
}

/* A TSV text field as Zeek's JSON writer shows it, as the reference does: \xNN and \\ escapes decoded,
 * then valid UTF-8 kept, other bytes and control characters but \b \t \n \f \r written \xNN. */
/* The bytes of x that a TSV text field cannot copy as they are (a backslash, below 0x20, from 0x80), and
 * those CSV quotes (',' '"'): flagged in their high bits. A flag can be wrong only above a right one. */
static inline uint64_t tsv_escapes(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL, bs = x ^ (ones * '\\');
    return (((bs - ones) & ~bs) | ((x - ones * 0x20) & ~x) | x) & highs;
}

static inline uint64_t tsv_quotes(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t comma = x ^ (ones * ','), quote = x ^ (ones * '"');
    return (((comma - ones) & ~comma) | ((quote - ones) & ~quote)) & highs;
}

static Status tsv_text(const unsigned char *a, const unsigned char *b, const unsigned char *limit, Buf *out,
                       int *special) {
    static const char hex[] = "0123456789abcdef";
    /* The common case in one pass: printable ASCII and no backslash, which is its own text; eight bytes at
     * a time, the last word read on into the block (its bytes after the field masked off). */
    const unsigned char *q = a;
    uint64_t quoted = 0;
    for (uint64_t x; q < b && limit - q >= 8; q += 8) {
        memcpy(&x, q, 8);
        uint64_t keep = b - q >= 8 ? ~0ULL : (1ULL << (8 * (b - q))) - 1;
        if (tsv_escapes(x) & keep) break;
        quoted |= tsv_quotes(x) & keep;
    }
    if (q > b) q = b;
    for (; q < b && (string_class[*q] || *q == '"'); q++) quoted |= string_class[*q] == 2 || *q == '"';
    if (q == b) {
        if (quoted) *special = 1;
        return buf_put(out, (const char *)a, (size_t)(b - a)) ? NOMEM : OK;
    }
    unsigned char small[256];
    unsigned char *bytes = small;
    size_t n = 0;
    if ((size_t)(b - a) > sizeof small && !(bytes = malloc((size_t)(b - a)))) return NOMEM;
    for (const unsigned char *p = a; p < b;) {
        unsigned v;
        if (*p == '\\' && b - p >= 4 && p[1] == 'x' && !hex2(p + 2, &v)) {
            bytes[n++] = (unsigned char)v;
            p += 4;
        } else if (*p == '\\' && b - p >= 2 && p[1] == '\\') {
            bytes[n++] = '\\';
            p += 2;
        } else {
            bytes[n++] = *p++;
        }
    }
    Status st = OK;
    for (size_t i = 0; i < n && st == OK;) {
        unsigned c = bytes[i];
        int len = c < 0x80 ? 1 : utf8_length(bytes + i, bytes + n);
        if (c < 0x80 && (c <= 0x07 || c == 0x0b || (c >= 0x0e && c <= 0x1f))) len = 0;
        if (!len) {  /* one byte as the four characters \xNN */
            char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            if (buf_put(out, esc, 4)) st = NOMEM;
            i++;
            continue;
        }
        if (c == ',' || c == '"' || c == '\r' || c == '\n') *special = 1;
        if (buf_put(out, (const char *)bytes + i, (size_t)len)) st = NOMEM;
        i += (size_t)len;
    }
    if (bytes != small) free(bytes);
    return st;
}

/* One scalar TSV field (not the unset marker) by its type's rule, into out. */
static Status tsv_scalar(Scan *s, const Column *type, const unsigned char *a, const unsigned char *b, Buf *out,
                         int *special) {
    switch (type->kind) {
    case K_STRING:
        return tsv_text(a, b, s->limit, out, special);
    case K_BOOL:
        if (b - a == 1 && *a == 'T') return buf_put(out, "true", 4) ? NOMEM : OK;
        if (b - a == 1 && *a == 'F') return buf_put(out, "false", 5) ? NOMEM : OK;
        return DECLINE;
    default: {
        if (a == b || (*a != '-' && (*a < '0' || *a > '9'))) return DECLINE;
        s->p = a;
        s->end = b;
        Status st = number_value(s, type, out, 1);
        return st ? st : (s->p == b ? OK : DECLINE);
    }
    }
}

/* One field into the line's cells (or validated only, for a field that is not an output column). */
static Status tsv_field(Scan *s, const TsvPlan *plan, Py_ssize_t i, const unsigned char *a, const unsigned char *b) {
    const Column *type = &plan->fields[i];
    Py_ssize_t column = plan->out[i];
    Buf *sc = &s->scratch;  /* a field that is not an output column is validated there, then forgotten */
    int special = 0;
    Status st = OK;
    if (is_marker(a, b, &plan->unset)) return OK;  /* unset: an empty cell, and not a dropped key */
    if (column >= 0 && (st = cell_begin(s, column, &sc))) return st;
    size_t start = sc->len;
    if (type->is_list) {
        if (!is_marker(a, b, &plan->empty)) {
            const Buf *sep = &plan->set_separator;
            const unsigned char *e = a;
            for (int first = 1; st == OK; first = 0) {
                const unsigned char *next = sep->len ? next_separator(e, b, sep) : NULL;
                const unsigned char *end = next ? next : b;
                if (!first) {
                    special = 1;
                    if (buf_byte(sc, ',')) return NOMEM;
                }
                if (!is_marker(e, end, &plan->unset)) st = tsv_scalar(s, type, e, end, sc, &special);
                if (!next) break;
                e = next + sep->len;
            }
        }
    } else if (!(type->kind == K_STRING && is_marker(a, b, &plan->empty))) {
        st = tsv_scalar(s, type, a, b, sc, &special);
    }
    if (st) return st;
    if (column < 0) {  /* a field that is not an output column: counted, its text not kept */
        sc->len = start;
        if (type->len > MAX_KEY) return DECLINE;
        s->key_len = type->len;
        memcpy(s->key, type->name, (size_t)type->len);
        return note_dropped(s);
    }
    if (special && (st = quote_in_place(sc, start))) return st;
    cell_end(s, column, start);
    return OK;
}

/* One data line (no '#' line, CR removed) into its cells. */
static Status tsv_line(Scan *s, const TsvPlan *plan, const unsigned char *a, const unsigned char *b) {
    row_begin(s, plan->ncols);
    const Buf *sep = &plan->separator;
    const unsigned char *field = a;
    for (Py_ssize_t i = 0; i < plan->nfields; i++) {
        const unsigned char *next = next_separator(field, b, sep);
        if ((next == NULL) != (i == plan->nfields - 1)) return DECLINE;  /* another number of fields */
        const unsigned char *end = next ? next : b;
        Status st = tsv_field(s, plan, i, field, end);
        if (st) return st;
        field = end + sep->len;
    }
    return OK;
}

/* ---- the Python face ------------------------------------------------------------------------------ */

static void plan_free(PyObject *capsule) {
    Plan *plan = PyCapsule_GetPointer(capsule, "zeekflow.kernel.plan");
    if (!plan) return;
    for (Py_ssize_t i = 0; i < plan->ncols; i++) free(plan->cols[i].name);
    free(plan->cols);
    free(plan->table);
    free(plan);
}

PyDoc_STRVAR(plan_doc,
"plan(columns) -> capsule\n\n"
"The column plan of a block converter: columns is a sequence of (name: bytes, kind: str, is_list: bool,\n"
"high: int), kind one of 'u' (unsigned, at most high), 'i' (int64), 'n' (number), 't' (time), 'b' (bool),\n"
"'s' (string).");

static PyObject *kernel_plan(PyObject *self, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "columns must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    Plan *plan = calloc(1, sizeof *plan);
    if (!plan) { Py_DECREF(seq); return PyErr_NoMemory(); }
    plan->ncols = n;
    plan->cols = calloc((size_t)(n ? n : 1), sizeof(Column));
    size_t size = 8;
    while (size < (size_t)n * 2) size *= 2;
    plan->table = calloc(size, sizeof(Py_ssize_t));
    plan->mask = size - 1;
    PyObject *capsule = NULL;
    if (!plan->cols || !plan->table) { PyErr_NoMemory(); goto fail; }
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *name, *kind;
        Py_ssize_t len, kind_len;
        int is_list;
        unsigned long long high;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "y#s#pK", &name, &len, &kind, &kind_len,
                              &is_list, &high))
            goto fail;
        if (kind_len != 1 || !strchr("uintbs", kind[0])) {
            PyErr_Format(PyExc_ValueError, "unknown column kind %s", kind);
            goto fail;
        }
        Column *c = &plan->cols[i];
        c->name = malloc((size_t)len + 1);
        if (!c->name) { PyErr_NoMemory(); goto fail; }
        memcpy(c->name, name, (size_t)len);
        c->len = len;
        c->kind = kind[0];
        c->is_list = is_list;
        c->high = high;
        c->plain_name = 1;
        for (Py_ssize_t j = 0; j < len; j++)
            if (string_class[(unsigned char)name[j]] == 0) c->plain_name = 0;
        if (c->plain_name && len <= 15) {
            unsigned char pattern[16] = {0}, mask[16] = {0};
            memcpy(pattern, name, (size_t)len);
            pattern[len] = '"';
            memset(mask, 0xFF, (size_t)len + 1);
            memcpy(c->quoted, pattern, 16);
            memcpy(c->quoted_mask, mask, 16);
        }
        size_t slot = (size_t)hash_bytes(name, len) & plan->mask;
        while (plan->table[slot]) slot = (slot + 1) & plan->mask;
        plan->table[slot] = i + 1;
    }
    capsule = PyCapsule_New(plan, "zeekflow.kernel.plan", plan_free);
    if (!capsule) goto fail;
    Py_DECREF(seq);
    return capsule;
fail:
    if (plan->cols) for (Py_ssize_t i = 0; i < n; i++) free(plan->cols[i].name);
    free(plan->cols);
    free(plan->table);
    free(plan);
    Py_DECREF(seq);
    return NULL;
}

typedef struct {
    Py_ssize_t line, start, end, csv_at;
} Declined;

PyDoc_STRVAR(convert_doc,
"convert_ndjson(plan, block) -> (csv, declined, lines, rows, blank, dropped)\n\n"
"CSV rows of the lines of block (whole lines; the last may lack its newline) that the kernel settles.\n"
"declined: (line index, start, end, csv position) of each line left to the reference, in order; its row\n"
"(if any) belongs at that position of csv. dropped: key -> lines holding it, over the settled lines.");

/* The block loop both formats share: lines settled into `out` or declined, counted, with the GIL released.
 * tsv: NULL for NDJSON lines (scan_line with `plan`), else Zeek TSV data lines (tsv_line). */
static PyObject *convert_block(const Plan *plan, const TsvPlan *tsv, Py_ssize_t ncols, Py_buffer view) {
    Scan s;
    memset(&s, 0, sizeof s);
    s.plan = plan;
    struct lconv *lc = localeconv();
    s.long_numbers = lc && lc->decimal_point && !strcmp(lc->decimal_point, ".");
    s.cell_start = malloc(sizeof(size_t) * (size_t)(ncols + 1));
    s.cell_len = malloc(sizeof(size_t) * (size_t)(ncols + 1));
    Buf out = {0};
    Declined *declined = NULL;
    Py_ssize_t ndeclined = 0, declined_cap = 0;
    Py_ssize_t lines = 0, rows = 0, blank = 0;
    Status status = (s.cell_start && s.cell_len) ? OK : NOMEM;

    const unsigned char *data = view.buf, *block_end = data + view.len;
    s.limit = block_end;
    Py_BEGIN_ALLOW_THREADS
    if (status == OK && buf_reserve(&out, (size_t)view.len + 4096)) status = NOMEM;
    const unsigned char *line = data;
    while (status == OK && line < block_end) {
        const unsigned char *nl = memchr(line, '\n', (size_t)(block_end - line));
        const unsigned char *line_end = nl ? nl : block_end;
        const unsigned char *a = line, *b = line_end;
        if (tsv) {  /* blank as bytes.strip() sees it; one CR at the end is not data */
            while (a < b && (*a == ' ' || *a == '\t' || *a == '\r' || *a == '\v' || *a == '\f')) a++;
            if (a < b) a = line;
            if (b > a && b[-1] == '\r') b--;
        } else {
            while (a < b && (*a == ' ' || *a == '\t' || *a == '\r')) a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) b--;
        }
        if (a == b) {
            blank++;
        } else {
            /* The row straight into the output while the line's cells come in column order (Zeek writes
             * them so); a line that repeats or reorders a column is scanned again into cells. */
            size_t row_start = out.len;
            Status st = REORDER;
            for (int direct = 1; st == REORDER; direct = 0) {
                s.direct = direct ? &out : NULL;
                out.len = row_start;
                if (tsv) {
                    st = *a == '#' ? DECLINE : tsv_line(&s, tsv, a, b);
                } else {
                    s.p = a;
                    s.end = b;
                    st = scan_line(&s);
                }
                if (st == REORDER && !direct) st = DECLINE;  /* cannot happen: cells take any order */
            }
            if (st == OK && s.direct) {
                st = row_end_direct(&s, ncols);
            } else if (st == OK) {
                for (Py_ssize_t i = 0; i < ncols && st == OK; i++) {
                    if (i && buf_byte(&out, ',')) st = NOMEM;
                    else if (s.cell_len[i] && buf_put(&out, s.scratch.data + s.cell_start[i], s.cell_len[i])) st = NOMEM;
                }
                if (st == OK && buf_byte(&out, '\n')) st = NOMEM;
            }
            if (st != OK) out.len = row_start;  /* a declined line's partial row */
            if (st == OK) {
                rows++;
                for (int k = 0; k < s.nline_dropped; k++) {
                    Dropped *d = &s.dropped[s.line_dropped[k]];
                    if (d->last_line != lines) { d->count++; d->last_line = lines; }
                }
            }
            if (st == DECLINE) {
                if (ndeclined == declined_cap) {
                    Py_ssize_t cap = declined_cap ? declined_cap * 2 : 16;
                    Declined *grown = realloc(declined, sizeof(Declined) * (size_t)cap);
                    if (!grown) st = NOMEM;
                    else { declined = grown; declined_cap = cap; }
                }
                if (st == DECLINE)
                    declined[ndeclined++] = (Declined){lines, line - data, line_end - data, (Py_ssize_t)out.len};
            }
            if (st == NOMEM) status = NOMEM;
        }
        lines++;
        line = nl ? nl + 1 : block_end;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);

    PyObject *result = NULL, *csv = NULL, *declined_list = NULL, *dropped = NULL;
    if (status == NOMEM) { PyErr_NoMemory(); goto done; }
    csv = PyBytes_FromStringAndSize(out.data ? out.data : "", (Py_ssize_t)out.len);
    declined_list = PyList_New(ndeclined);
    dropped = PyDict_New();
    if (!csv || !declined_list || !dropped) goto done;
    for (Py_ssize_t i = 0; i < ndeclined; i++) {
        PyObject *item = Py_BuildValue("(nnnn)", declined[i].line, declined[i].start, declined[i].end,
                                       declined[i].csv_at);
        if (!item) goto done;
        PyList_SET_ITEM(declined_list, i, item);
    }
    for (int k = 0; k < s.ndropped; k++) {
        if (!s.dropped[k].count) continue;
        PyObject *name = PyUnicode_DecodeUTF8(s.dropped[k].name, s.dropped[k].len, "surrogateescape");
        PyObject *count = name ? PyLong_FromSsize_t(s.dropped[k].count) : NULL;
        int failed = !count || PyDict_SetItem(dropped, name, count);
        Py_XDECREF(name);
        Py_XDECREF(count);
        if (failed) goto done;
    }
    result = Py_BuildValue("(OOnnnO)", csv, declined_list, lines, rows, blank, dropped);
done:
    Py_XDECREF(csv);
    Py_XDECREF(declined_list);
    Py_XDECREF(dropped);
    for (int k = 0; k < s.ndropped; k++) free(s.dropped[k].name);
    free(s.scratch.data);
    free(s.cell_start);
    free(s.cell_len);
    free(out.data);
    free(declined);
    return result;
}

static PyObject *kernel_convert(PyObject *self, PyObject *args) {
    PyObject *capsule;
    Py_buffer view;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oy*", &capsule, &view)) return NULL;
    Plan *plan = PyCapsule_GetPointer(capsule, "zeekflow.kernel.plan");
    if (!plan) { PyBuffer_Release(&view); return NULL; }
    return convert_block(plan, NULL, plan->ncols, view);
}

PyDoc_STRVAR(convert_tsv_doc,
"convert_tsv(tsv_plan, block) -> (csv, declined, lines, rows, blank, dropped)\n\n"
"As convert_ndjson, for the data lines of a Zeek TSV log under the header tsv_plan was made for; a line\n"
"starting with '#' is declined.");

static PyObject *kernel_convert_tsv(PyObject *self, PyObject *args) {
    PyObject *capsule;
    Py_buffer view;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oy*", &capsule, &view)) return NULL;
    TsvPlan *plan = PyCapsule_GetPointer(capsule, "zeekflow.kernel.tsv_plan");
    if (!plan) { PyBuffer_Release(&view); return NULL; }
    return convert_block(NULL, plan, plan->ncols, view);
}

static void tsv_plan_free(PyObject *capsule) {
    TsvPlan *plan = PyCapsule_GetPointer(capsule, "zeekflow.kernel.tsv_plan");
    if (!plan) return;
    for (Py_ssize_t i = 0; i < plan->nfields; i++) free(plan->fields[i].name);
    free(plan->fields);
    free(plan->out);
    free(plan->separator.data);
    free(plan->set_separator.data);
    free(plan->empty.data);
    free(plan->unset.data);
    free(plan);
}

PyDoc_STRVAR(tsv_plan_doc,
"tsv_plan(ncols, fields, separator, set_separator, empty, unset) -> capsule\n\n"
"A TSV header's layout: fields is a sequence of (name: bytes, kind: str, is_list: bool, high: int,\n"
"output column: int or -1), one per #fields entry, typed as plan() types columns.");

static PyObject *kernel_tsv_plan(PyObject *self, PyObject *args) {
    Py_ssize_t ncols;
    PyObject *fields;
    const char *markers[4];
    Py_ssize_t lengths[4];
    (void)self;
    if (!PyArg_ParseTuple(args, "nOy#y#y#y#", &ncols, &fields, &markers[0], &lengths[0], &markers[1], &lengths[1],
                          &markers[2], &lengths[2], &markers[3], &lengths[3]))
        return NULL;
    if (lengths[0] == 0) { PyErr_SetString(PyExc_ValueError, "the separator is empty"); return NULL; }
    PyObject *seq = PySequence_Fast(fields, "fields must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    TsvPlan *plan = calloc(1, sizeof *plan);
    PyObject *capsule = NULL;
    if (!plan) { Py_DECREF(seq); return PyErr_NoMemory(); }
    plan->ncols = ncols;
    plan->nfields = n;
    plan->fields = calloc((size_t)(n ? n : 1), sizeof(Column));
    plan->out = calloc((size_t)(n ? n : 1), sizeof(Py_ssize_t));
    Buf *bufs[4] = {&plan->separator, &plan->set_separator, &plan->empty, &plan->unset};
    if (!plan->fields || !plan->out) { PyErr_NoMemory(); goto fail; }
    for (int i = 0; i < 4; i++)
        if (buf_reserve(bufs[i], (size_t)lengths[i] + 1) || buf_put(bufs[i], markers[i], (size_t)lengths[i])) {
            PyErr_NoMemory();
            goto fail;
        }
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *name, *kind;
        Py_ssize_t len, kind_len, column;
        int is_list;
        unsigned long long high;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "y#s#pKn", &name, &len, &kind, &kind_len,
                              &is_list, &high, &column))
            goto fail;
        if (kind_len != 1 || !strchr("uintbs", kind[0]) || column < -1 || column >= ncols) {
            PyErr_Format(PyExc_ValueError, "bad field %zd", i);
            goto fail;
        }
        Column *c = &plan->fields[i];
        if (!(c->name = malloc((size_t)len + 1))) { PyErr_NoMemory(); goto fail; }
        memcpy(c->name, name, (size_t)len);
        c->len = len;
        c->kind = kind[0];
        c->is_list = is_list;
        c->high = high;
        plan->out[i] = column;
    }
    capsule = PyCapsule_New(plan, "zeekflow.kernel.tsv_plan", tsv_plan_free);
    if (!capsule) goto fail;
    Py_DECREF(seq);
    return capsule;
fail:
    for (Py_ssize_t i = 0; plan->fields && i < n; i++) free(plan->fields[i].name);
    free(plan->fields);
    free(plan->out);
    for (int i = 0; i < 4; i++) free(bufs[i]->data);
    free(plan);
    Py_DECREF(seq);
    return NULL;
}

static PyMethodDef kernel_methods[] = {
    {"tsv_plan", kernel_tsv_plan, METH_VARARGS, tsv_plan_doc},
    {"convert_tsv", kernel_convert_tsv, METH_VARARGS, convert_tsv_doc},
    {"plan", kernel_plan, METH_O, plan_doc},
    {"convert_ndjson", kernel_convert, METH_VARARGS, convert_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef kernel_module = {
    PyModuleDef_HEAD_INIT, "_kernel", "zeekflow's native NDJSON-to-CSV kernel (see workflows/kernel.py).", -1,
    kernel_methods,
};

PyMODINIT_FUNC PyInit__kernel(void) {
    for (int i = 0; i < 620; i++) powers_of_ten[i] = pow(10.0, (double)(i - 310));
    long_powers_of_ten[0] = 1;
    for (int i = 1; i < 28; i++) long_powers_of_ten[i] = long_powers_of_ten[i - 1] * 10;
    init_classes();
    return PyModule_Create(&kernel_module);
}
