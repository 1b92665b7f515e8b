/* See LICENSE file for copyright and license details. */

/* files and logging */
static const char default_config[] = "/etc/python-policyd-spf/policyd-spf.conf";
static const char log_ident[]      = "policyd-spf";	/* when argv[0] is unusable */

/*
 * Defaults of the pypolicyd-spf keys (pypolicyd-spf 3.0.4), then our own.
 * The config file overrides every one of them.
 */
static const Conf conf_default = {
	.debug                  = 1,		/* debugLevel */
	.helo_reject            = "Fail",	/* HELO_reject */
	.mfrom_reject           = "Fail",	/* Mail_From_reject */
	.permerror_reject       = "False",	/* PermError_reject */
	.temperror_defer        = "False",	/* TempError_Defer */
	.skip_addresses         = "127.0.0.0/8,::ffff:127.0.0.0/104,::1",
	.whitelist              = "",		/* Whitelist */
	.domain_whitelist       = "",		/* Domain_Whitelist */
	.helo_whitelist         = "",		/* HELO_Whitelist */
	.domain_whitelist_ptr   = "",		/* Domain_Whitelist_PTR */
	.reject_not_pass        = "",		/* Reject_Not_Pass_Domains */
	.no_mail                = "False",	/* No_Mail */
	.helo_pass_restriction  = "",		/* HELO_pass_restriction */
	.mfrom_pass_restriction = "",		/* Mail_From_pass_restriction */
	.prospective            = "",		/* Prospective */
	.test_only              = 1,		/* TestOnly */
	.enhanced_codes         = "Yes",	/* SPF_Enhanced_Status_Codes */
	.header_type            = "SPF",	/* Header_Type */
	.hide_receiver          = "No",		/* Hide_Receiver */
	.authserv_id            = "HOSTNAME",	/* Authserv_Id */
	.lookup_time            = 20,		/* Lookup_Time, s */
	.whitelist_lookup_time  = 10,		/* Whitelist_Lookup_Time, s */
	.void_limit             = 2,		/* Void_Limit */
	.reason_message         = "Message {rejectdefer} due to: {spf}. Please see {url}",
	.mock                   = 0,		/* Mock */
	.per_user               = "",		/* Per_User */
	/* ours */
	.nameservers            = "",		/* Nameservers; empty: resolv.conf */
	.default_exp            = "SPF fail - not authorized",	/* Default_Explanation */
	.why_url                = "http://www.openspf.net/Why?s={scope};id={identity};ip={ip};r={receiver}",
	.receiver_domain        = "",		/* Receiver_Domain; empty: hostname */
	.dns_timeout_ms         = 0,		/* DNS_Timeout_ms, one try;
						   0: resolv.conf's timeout */
	.dns_tries              = 0,		/* DNS_Tries; 0: resolv.conf's attempts */
	.error_action           = "dunno",	/* Error_Action */
	/* listener mode (-l) */
	.listen_user            = "nobody",	/* Listen_User */
	.listen_group           = "",		/* Listen_Group */
	.listen_mode            = "0666",	/* Listen_Mode */
	.listen_owner           = "",		/* Listen_Owner */
	.max_connections        = 100,		/* Max_Connections, as Postfix's
						   default_process_limit */
	.idle_timeout           = 300,		/* Idle_Timeout, s: Postfix's
						   smtpd_policy_service_max_idle */
	.request_timeout        = 5,		/* Request_Timeout, s: from a
						   request's first byte to its end */
	.listen_allow           = "",		/* Listen_Allow: inet clients */
};

/* RFC 7208 4.6.4 processing limits; the RFC's values */
static const int max_dns_terms = 10;	/* include a mx ptr exists redirect */
static const int max_mx_names  = 10;	/* more: permerror */
static const int max_cnames    = 10;	/* CNAME hops per lookup */
#define MAX_PTR_NAMES	10		/* PTR names validated; more: ignored */

/* resolver */
static const int dns_timeout_default = 2000;	/* ms, first try, when neither the */
static const int dns_tries_default   = 3;	/* config nor resolv.conf says */
#define MAX_NS		16		/* name servers asked, in turn */
#define DNS_QUERY_MAX	(12 + DNS_NAME_MAX + 4 + 11)	/* header, question, OPT */
static const int edns_payload  = 1232;	/* bytes; larger answers go to TCP */
static const unsigned dns_cache_max_ttl = 3600;	/* s; answers kept at most */
#define DNS_CACHE_SIZE	64		/* answers kept per process */
#define DNS_CACHE_PKT	1232		/* bytes; larger answers are not kept */

/* input limits */
#define LINE_MAX_LEN	4096		/* policy line; longer: Error_Action */
#define CONF_LINE_MAX	8192		/* config file line */
#define MACRO_MAX	8192		/* macro expansion before 253-cut */
#define EXP_MAX		400		/* explanation kept for a reply */
#define ARENA_SIZE	(4 << 20)	/* per evaluation: records, answers */
#define REPLY_MAX	(6 * LINE_MAX_LEN)	/* an action line: values + texts */
#define INSTANCE_MAX	128		/* longer instance ids are not cached */
#define ICACHE_SIZE	4		/* instances remembered (one is in use) */
#define LOG_LINE_MAX	4096		/* a log line on stderr; longer: cut */

/* listener */
#define LISTEN_BACKLOG	128		/* connections waiting when all are busy */
#define MAX_CONN_LIMIT	1024		/* Max_Connections at most */
#define SHUTDOWN_MS	10000		/* SIGTERM: open connections get this long */
static const char listen_loopback[] = "127.0.0.0/8, ::1";	/* Listen_Allow unset */
#define REFUSED_LOG_MAX	10		/* refusals logged a minute; then counted */
#define REFUSED_LOG_MS	60000		/* the minute of REFUSED_LOG_MAX */
#define EVICT_WAIT_MS	500		/* full: time for the closed one to go */
