/* See LICENSE file for copyright and license details. */

/* files and logging */
/* without a config argument, the first that exists: upstream's (and
   EPEL's), then Debian's package's */
static const char *const default_configs[] = {
	"/etc/python-policyd-spf/policyd-spf.conf",
	"/etc/postfix-policyd-spf-python/policyd-spf.conf",
};
static const char log_ident[]      = "policyd-spf";	/* when argv[0] is unusable */

#define MAX_CONN_LIMIT	1024		/* Max_Connections at most */

/*
 * Every key of the config file, with its default (pypolicyd-spf 3.0.4's
 * for its keys), written as the file would say it: the defaults are
 * compiled as a file is.  The range is that of a number, or the fields
 * a template may name (enum TmplField); "user" marks the keys a Per_User
 * line may set (pypolicyd-spf's list).
 */
#define REASON_DEFAULT	"Message {rejectdefer} due to: {spf}. Please see {url}"
#define URL_DEFAULT	"http://www.openspf.net/Why?s={scope};id={identity};ip={ip};r={receiver}"
#define F(field)	offsetof(Conf, field)
static const Key keys[] = {
	/* name                       type       field                    default  min  max  user */
	{ "debugLevel",               K_INT,     F(debug),                "1", -1, 5, 1 },
	{ "HELO_reject",              K_POLICY,  F(policy[I_HELO]),       "Fail", 0, 0, 1 },
	{ "Mail_From_reject",         K_POLICY,  F(policy[I_MAILFROM]),   "Fail", 0, 0, 1 },
	{ "PermError_reject",         K_TRUE,    F(permerror_reject),     "False", 0, 0, 1 },
	{ "TempError_Defer",          K_TRUE,    F(temperror_defer),      "False", 0, 0, 1 },
	{ "skip_addresses",           K_NETS,    F(skip),                 "127.0.0.0/8,::ffff:127.0.0.0/104,::1", 0, 0, 1 },
	{ "Whitelist",                K_NETS,    F(whitelist),            "", 0, 0, 1 },
	{ "Domain_Whitelist",         K_DOMAINS, F(domain_whitelist),     "", 0, 0, 1 },
	{ "HELO_Whitelist",           K_DOMAINS, F(helo_whitelist),       "", 0, 0, 1 },
	{ "Domain_Whitelist_PTR",     K_DOMAINS, F(domain_whitelist_ptr), "", 0, 0, 1 },
	{ "Reject_Not_Pass_Domains",  K_DOMAINS, F(reject_not_pass),      "", 0, 0, 1 },
	{ "No_Mail",                  K_TRUE,    F(no_mail),              "False", 0, 0, 1 },
	{ "HELO_pass_restriction",    K_STR,     F(restriction[I_HELO]),  "", 0, 0, 1 },
	{ "Mail_From_pass_restriction", K_STR,   F(restriction[I_MAILFROM]), "", 0, 0, 1 },
	{ "Prospective",              K_STR,     F(prospective),          "", 0, 0, 1 },
	{ "TestOnly",                 K_INT,     F(test_only),            "1", INT_MIN, INT_MAX, 0 },
	{ "SPF_Enhanced_Status_Codes", K_NOTNO,  F(enhanced),             "Yes", 0, 0, 1 },
	{ "Header_Type",              K_HTYPE,   F(htype),                "SPF", 0, 0, 1 },
	{ "Hide_Receiver",            K_NOTNO,   F(hide_receiver),        "No", 0, 0, 1 },
	{ "Authserv_Id",              K_STR,     F(authserv_id),          "HOSTNAME", 0, 0, 0 },
	{ "Lookup_Time",              K_INT,     F(lookup_time),          "20", 0, 3600, 1 },
	{ "Whitelist_Lookup_Time",    K_INT,     F(whitelist_lookup_time), "10", 0, 3600, 1 },
	{ "Void_Limit",               K_INT,     F(void_limit),           "2", 0, 1000, 1 },
	{ "Reason_Message",           K_TMPL,    F(reason_message),       REASON_DEFAULT, TF_REJECTDEFER, TF_URL, 1 },
	{ "Mock",                     K_BOOL,    F(mock),                 "False", 0, 0, 0 },
	{ "Per_User",                 K_PERUSER, F(per_user),             "", 0, 0, 0 },
	{ "defaultSeedOnly",          K_SEED,    F(seed_only),            NULL, 0, 0, 1 },
	/* ours */
	{ "Nameservers",              K_STR,     F(nameservers),          "", 0, 0, 0 },	/* "": resolv.conf */
	{ "Default_Explanation",      K_STR,     F(default_exp),          "SPF fail - not authorized", 0, 0, 0 },
	{ "Explanation_URL",          K_TMPL,    F(why_url),              URL_DEFAULT, TF_SCOPE, TF_RECEIVER, 0 },
	/* pypolicyd-spf 3.1.0's, after ours: set, it is the {url}, over Explanation_URL */
	{ "Reason_URL",               K_TMPL,    F(reason_url),           "", TF_P0, TF_P3, 0 },
	{ "Receiver_Domain",          K_STR,     F(receiver),             "", 0, 0, 0 },	/* "": host name */
	{ "DNS_Timeout_ms",           K_INT,     F(dns_timeout_ms),       "0", 0, 60000, 0 },	/* one try; 0: */
	{ "DNS_Tries",                K_INT,     F(dns_tries),            "0", 0, 10, 0 },	/* resolv.conf's */
	{ "Error_Action",             K_STR,     F(error_action),         "dunno", 0, 0, 0 },
	/* listener mode (-l) */
	{ "Listen_User",              K_STR,     F(listen_user),          "nobody", 0, 0, 0 },
	{ "Listen_Group",             K_STR,     F(listen_group),         "", 0, 0, 0 },
	{ "Listen_Mode",              K_STR,     F(listen_mode),          "0666", 0, 0, 0 },
	{ "Listen_Owner",             K_STR,     F(listen_owner),         "", 0, 0, 0 },
	/* Max_Connections as Postfix's default_process_limit, Idle_Timeout
	   as its smtpd_policy_service_max_idle; Request_Timeout runs from a
	   request's first byte to its end */
	{ "Max_Connections",          K_INT,     F(max_connections),      "100", 1, MAX_CONN_LIMIT, 0 },
	{ "Idle_Timeout",             K_INT,     F(idle_timeout),         "300", 0, 86400, 0 },
	{ "Request_Timeout",          K_INT,     F(request_timeout),      "5", 1, 3600, 0 },
	{ "Listen_Allow",             K_ALLOW,   F(listen_allow),         "", 0, 0, 0 },	/* "": loopback */
	/* accepted: for the milter front end only */
	{ "Socket", K_IGNORED, 0, NULL, 0, 0, 0 }, { "PidFile", K_IGNORED, 0, NULL, 0, 0, 0 },
	{ "UserID", K_IGNORED, 0, NULL, 0, 0, 0 }, { "UMask", K_IGNORED, 0, NULL, 0, 0, 0 },
	{ "InternalHosts", K_IGNORED, 0, NULL, 0, 0, 0 }, { "IntHosts", K_IGNORED, 0, NULL, 0, 0, 0 },
	{ "MacroList", K_IGNORED, 0, NULL, 0, 0, 0 },
};
#undef F

/* RFC 7208 4.6.4 processing limits; the RFC's values */
static const int max_dns_terms = 10;	/* include a mx ptr exists redirect */
static const int max_mx_names  = 10;	/* more: permerror */
static const int max_cnames    = 10;	/* CNAME hops per lookup */
#define DNS_JUMPS_MAX	64		/* compression pointers followed in one name */
#define MAX_PTR_NAMES	10		/* PTR names validated; more: ignored */

/* resolver */
static const int dns_timeout_default = 2000;	/* ms, first try, when neither the */
static const int dns_tries_default   = 3;	/* config nor resolv.conf says */
#define DNS_FDS_MAX	64		/* sockets c-ares may have open at once */
#define DNS_QUERY_MAX	(12 + DNS_NAME_MAX + 4 + 11)	/* header, question, OPT */
#define LOOKUP_FALLBACK_MS 20000	/* a query's limit when Lookup_Time is 0 */
static const int edns_payload  = 1232;	/* bytes offered; c-ares asks over TCP when truncated */
static const unsigned dns_cache_max_ttl = 3600;	/* s; answers kept at most */
#define DNS_CACHE_SIZE	64		/* answers kept per process */
#define DNS_CACHE_PKT	1232		/* bytes; larger answers are not kept */

/* input limits */
#define LINE_MAX_LEN	4096		/* policy line; longer: Error_Action */
#define CONF_LINE_MAX	8192		/* config file line */
#define NET_ENTRY_MAX	256		/* an entry of a network list; longer: cut */
#define RESOLV_LINE_MAX	512		/* a resolv.conf line; longer: read in parts */
#define MACRO_MAX	8192		/* macro expansion before 253-cut */
#define EXP_MAX		400		/* explanation kept for a reply */
#define RCACHE_SIZE	32		/* parsed records kept per process */
#define RCACHE_POOL	(64 << 10)	/* bytes for them: terms and text */
#define WHY_MAX		512		/* detail of a permerror or temperror */
#define IN_BUF		8192		/* bytes read from Postfix at once */
/*
 * Per request: answers, records and their parsed terms.  The worst case
 * is 11 nested records (10 include or redirect) of 64 KiB, each with its
 * 32 Ki terms of 32 bytes; untouched pages cost no memory.
 */
#define ARENA_SIZE	(16 << 20)
#define REPLY_MAX	(6 * LINE_MAX_LEN)	/* an action line: values + texts */
#define INSTANCE_MAX	128		/* longer instance ids are not cached */
#define ICACHE_SIZE	4		/* instances remembered (one is in use) */
#define LOG_LINE_MAX	4096		/* a log line on stderr; longer: cut */
#define SYSLOG_MAX	1024		/* a syslog line, as musl's syslog(3) cuts it */

/* listener */
#define LISTEN_BACKLOG	128		/* connections waiting when all are busy */
#define SHUTDOWN_MS	10000		/* SIGTERM: a request being answered gets this long */
#define STOP_IDLE_MS	500		/* SIGTERM: an idle child not gone by then is killed */
static const char listen_loopback[] = "127.0.0.0/8, ::1";	/* Listen_Allow unset */
#define LOG_CAP_MAX	10		/* refusals, and closes for new clients, logged a minute; then counted */
#define LOG_CAP_MS	60000		/* the minute of LOG_CAP_MAX */
#define EVICT_WAIT_MS	500		/* full: time for those asked to go, then ask one more */
#define IDLE_MIN_MS	500		/* silent this long after a reply: idle (sooner: another recipient may come) */
#define FRESH_MS	1000		/* a new connection's first request may take this long to come */
#define TURN_MIN_MS	500		/* full: a connection in use keeps its slot this long at least */
#define WAIT_MAX	64		/* full: clients accepted to wait (more: in the listen queue) */
#define EVICT_RETRY_MS	100		/* full, none could be closed: ask again */
#define LISTEN_TICK_MS	1000		/* the listener looks at signals and children */
