/* See LICENSE file for copyright and license details. */

/* RFC constants: not tunable, the protocol fixes them. */
#define DOMAIN_MAX	253	/* RFC 7208 7.3: expanded names are cut to this */
#define LABEL_MAX	63	/* RFC 1035 2.3.4 */
#define DNS_NAME_MAX	255	/* wire form, RFC 1035 2.3.4 */

enum Result {	/* RFC 7208 2.6; order is the one pypolicyd-spf logs */
	R_NONE,
	R_NEUTRAL,
	R_PASS,
	R_FAIL,
	R_SOFTFAIL,
	R_TEMPERROR,
	R_PERMERROR,
	NUM_RESULTS
};

enum Ident {	/* RFC 7208 2.3, 2.4 */
	I_HELO,
	I_MAILFROM,
	NUM_IDENTS
};

enum Policy {	/* values of HELO_reject and Mail_From_reject */
	P_SPF_NOT_PASS,
	P_SOFTFAIL,
	P_FAIL,
	P_NULL,
	P_FALSE,
	P_NO_CHECK,
	P_OTHER,	/* any other string: no result rejects */
	NUM_POLICIES
};

enum HeaderType {
	H_SPF,		/* Received-SPF */
	H_AR,		/* Authentication-Results */
	H_NONE,
	H_BOTH,		/* "SPF" and "AR": pypolicyd-spf dies, we answer dunno */
	NUM_HEADERTYPES
};

typedef struct {	/* a client address; IPv4 in the first 4 bytes */
	int v6;
	unsigned char b[16];
} Addr;

/* The live configuration: every pypolicyd-spf key, then our own. */
typedef struct {
	int debug;			/* debugLevel */
	char *helo_reject;		/* HELO_reject */
	char *mfrom_reject;		/* Mail_From_reject */
	char *permerror_reject;		/* PermError_reject: "True" */
	char *temperror_defer;		/* TempError_Defer: "True" */
	char *skip_addresses;		/* skip_addresses */
	char *whitelist;		/* Whitelist */
	char *domain_whitelist;		/* Domain_Whitelist */
	char *helo_whitelist;		/* HELO_Whitelist */
	char *domain_whitelist_ptr;	/* Domain_Whitelist_PTR */
	char *reject_not_pass;		/* Reject_Not_Pass_Domains */
	char *no_mail;			/* No_Mail: "True" */
	char *helo_pass_restriction;	/* HELO_pass_restriction */
	char *mfrom_pass_restriction;	/* Mail_From_pass_restriction */
	char *prospective;		/* Prospective */
	int test_only;			/* TestOnly: 0 answers dunno */
	char *enhanced_codes;		/* SPF_Enhanced_Status_Codes: "No" */
	char *header_type;		/* Header_Type */
	char *hide_receiver;		/* Hide_Receiver: anything but "No" */
	char *authserv_id;		/* Authserv_Id: HOSTNAME = gethostname */
	int lookup_time;		/* Lookup_Time, s; 0: 20 s per query */
	int whitelist_lookup_time;	/* Whitelist_Lookup_Time, s */
	int void_limit;			/* Void_Limit, RFC 7208 4.6.4 */
	char *reason_message;		/* Reason_Message */
	int mock;			/* Mock */
	char *per_user;			/* Per_User */
	/* our own keys */
	char *nameservers;		/* Nameservers: host[:port],... */
	char *default_exp;		/* Default_Explanation */
	char *why_url;			/* Explanation_URL: {url} template */
	char *receiver_domain;		/* Receiver_Domain: %{r} */
	int dns_timeout_ms;		/* DNS_Timeout_ms: one try */
	int dns_tries;			/* DNS_Tries */
	char *error_action;		/* Error_Action: bad input, internal error */
	char *listen_user;		/* Listen_User: -l drops to it */
	char *listen_group;		/* Listen_Group; empty: the user's */
	char *listen_mode;		/* Listen_Mode: unix socket, octal */
	char *listen_owner;		/* Listen_Owner: unix socket owner */
	int max_connections;		/* Max_Connections */
	int idle_timeout;		/* Idle_Timeout, s */
	int request_timeout;		/* Request_Timeout, s */
	char *listen_allow;		/* Listen_Allow; empty: loopback only */
	int seed_only;			/* defaultSeedOnly was given */
} Conf;
