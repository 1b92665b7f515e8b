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

enum TmplField {	/* the fields of the templates, Reason_Message's then Explanation_URL's */
	TF_REJECTDEFER,
	TF_SPF,
	TF_URL,
	TF_SCOPE,
	TF_IDENTITY,
	TF_IP,
	TF_RECEIVER,
	TF_P0, TF_P1, TF_P2, TF_P3,	/* Reason_URL's {0}..{3}: scope, identity, ip, receiver */
	NUM_TFIELDS
};

typedef struct {	/* one part of a template: literal text, or a field */
	const char *lit;	/* the text (in the value as written); NULL: a field */
	size_t len;		/* its length */
	int field;		/* enum TmplField */
	char fill, align;	/* the field's spec, [[fill]align][width][.precision][s] */
	size_t width, prec;
} TmplPart;

typedef struct {	/* a str.format() template, compiled (Reason_Message, Explanation_URL) */
	const TmplPart *part;
	int n;
	const char *bad;	/* the value as written when it did not compile: the default is in force */
} Tmpl;

typedef struct {	/* a client address; IPv4 in the first 4 bytes */
	int v6;
	unsigned char b[16];
} Addr;

typedef struct {	/* a network: addr/bits */
	Addr a;
	int bits;
} Net;

typedef struct {	/* a network list, compiled (skip_addresses, Whitelist, Listen_Allow) */
	const char *key;	/* for the log line */
	const char *text;	/* as written: -t names every bad entry */
	Net *net;
	int n;
	const char *bad;	/* the first entry that is no network: the list ends there */
	const char *err;	/* what is wrong with it */
} NetList;

/*
 * The configuration in force, compiled from the file (and for one
 * request from a Per_User line): every pypolicyd-spf key, then our own.
 * After loading, nothing compares configuration strings.
 */
typedef struct {
	int debug;			/* debugLevel */
	int policy[NUM_IDENTS];		/* HELO_reject, Mail_From_reject */
	int permerror_reject;		/* PermError_reject is "True" */
	int temperror_defer;		/* TempError_Defer is "True" */
	NetList skip;			/* skip_addresses */
	NetList whitelist;		/* Whitelist */
	const char *domain_whitelist;	/* Domain_Whitelist: domain lists are */
	const char *helo_whitelist;	/*   their entries, each ended by a NUL, */
	const char *domain_whitelist_ptr;	/*   then an empty one */
	const char *reject_not_pass;	/* Reject_Not_Pass_Domains */
	int no_mail;			/* No_Mail is "True" */
	const char *restriction[NUM_IDENTS];	/* HELO_, Mail_From_pass_restriction */
	const char *prospective;	/* Prospective; "": none */
	int test_only;			/* TestOnly: 0 answers dunno */
	int enhanced;			/* SPF_Enhanced_Status_Codes is not "No" */
	int htype;			/* Header_Type, as pypolicyd-spf reads it */
	int hide_receiver;		/* Hide_Receiver is not "No" */
	const char *authserv_id;	/* Authserv_Id, lower case; HOSTNAME and "": the host name */
	int authserv_set;		/* Authserv_Id was not "" (-t) */
	int lookup_time;		/* Lookup_Time, s; 0: LOOKUP_FALLBACK_MS per query */
	int whitelist_lookup_time;	/* Whitelist_Lookup_Time, s */
	int void_limit;			/* Void_Limit, RFC 7208 4.6.4 */
	Tmpl reason_message;		/* Reason_Message */
	int mock;			/* Mock */
	const char *per_user;		/* Per_User as written; "": unset */
	const char *per_user_path;	/* its file when it is "text,<path>", else NULL */
	int seed_only;			/* defaultSeedOnly was given */
	/* our own keys */
	const char *nameservers;	/* Nameservers: host[:port],... */
	const char *default_exp;	/* Default_Explanation */
	Tmpl why_url;			/* Explanation_URL: the {url} of Reason_Message */
	Tmpl reason_url;		/* Reason_URL (pypolicyd-spf 3.1.0): over why_url when not "" */
	const char *receiver;		/* %{r}: Receiver_Domain, else the host name */
	int dns_timeout_ms;		/* DNS_Timeout_ms: one try */
	int dns_tries;			/* DNS_Tries */
	const char *error_action;	/* Error_Action: bad input, internal error */
	const char *listen_user;	/* Listen_User: -l drops to it */
	const char *listen_group;	/* Listen_Group; "": the user's */
	const char *listen_mode;	/* Listen_Mode: unix socket, octal */
	const char *listen_owner;	/* Listen_Owner: unix socket owner */
	int max_connections;		/* Max_Connections */
	int idle_timeout;		/* Idle_Timeout, s */
	int request_timeout;		/* Request_Timeout, s */
	NetList listen_allow;		/* Listen_Allow; unset: loopback */
	int listen_allow_set;
	/* where the compiled values live */
	int overlay;			/* a Per_User line's: in the request's arena */
	void *blocks;			/* else: malloc'd blocks, freed together */
} Conf;

enum KeyType {	/* how a key's value is read */
	K_INT,		/* a decimal in [min, max] */
	K_BOOL,		/* False, No, Off, 0, "": off (Mock) */
	K_TRUE,		/* on when exactly "True", as pypolicyd-spf tests it */
	K_NOTNO,	/* on unless exactly "No" */
	K_POLICY,	/* enum Policy */
	K_HTYPE,	/* enum HeaderType */
	K_STR,
	K_TMPL,		/* a template; the range is that of its fields */
	K_NETS,		/* a network list */
	K_ALLOW,	/* Listen_Allow: a network list, blanks separate too */
	K_DOMAINS,	/* a domain list */
	K_PERUSER,	/* "text,<path>" */
	K_SEED,		/* defaultSeedOnly: deprecated, a warning per request */
	K_IGNORED,	/* the milter's keys */
	NUM_KEYTYPES
};

typedef struct {	/* one key of the config file */
	const char *name;	/* case-sensitive, as pypolicyd-spf reads it */
	int type;
	size_t off;		/* its field in Conf */
	const char *def;	/* the default, as the file would say it; NULL: none */
	long min, max;		/* K_INT */
	int peruser;		/* a Per_User line may set it */
} Key;
