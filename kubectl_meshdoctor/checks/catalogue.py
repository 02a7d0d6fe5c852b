"""The findings catalogue of FINDINGS.md: stable ids and codes, and what to tell a person about each.

`explain` prints these entries; checks take their title, family and severity from here, so a code
means the same thing in the report, in `checks` and in `explain`. The text is ours, written from
Istio's guidelines: what the problem is, why traffic breaks, and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_meshdoctor.checks.severity import Severity

_NET = "https://istio.io/latest/docs/ops/common-problems/network-issues/"
_BP = "https://istio.io/latest/docs/ops/best-practices/traffic-management/"
_REQ = "https://istio.io/latest/docs/ops/deployment/application-requirements/"
_PROTO = "https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/"
_AMBIENT = "https://istio.io/latest/docs/ambient/usage/"
_DEBUG = "https://istio.io/latest/docs/ops/diagnostic-tools/proxy-cmd/"
_GWAPI = "https://istio.io/latest/docs/tasks/traffic-management/ingress/gateway-api/"
_GAMMA = "https://gateway-api.sigs.k8s.io/mesh/"
_GRANT = "https://gateway-api.sigs.k8s.io/api-types/referencegrant/"


@dataclass(frozen=True)
class Family:
    key: str
    title: str
    guideline: str  # the section of the guidelines page the family comes from


FAMILIES: tuple[Family, ...] = (
    Family("routing", "Routing fragments", "Multiple virtual services and destination rules for the same host"),
    Family("tls", "TLS between client and server", "503 errors after setting destination rule"),
    Family("reconfiguration", "Subsets and reconfiguration", "503 errors while reconfiguring service routes"),
    Family("ingress", "Ingress gateway routes", "Route rules have no effect on ingress gateway requests"),
    Family("gatewayapi", "Gateway API routes",
           "Route rules have no effect (HTTPRoute, GRPCRoute, TCPRoute, TLSRoute and their references)"),
    Family("workloads", "Service and pod requirements", "Route rules have no effect on my application"),
    Family("ambient", "Ambient data plane", "Route rules have no effect on my application (ztunnel and waypoints)"),
    Family("http10", "HTTP/1.0", "Envoy won't connect to my HTTP/1.0 service"),
    Family("tcp", "Long-lived TCP connections", "Headless TCP services losing connection"),
    Family("proxyconfig", "Proxy configuration vs model",
           "What the proxies really hold, against what the configuration predicts (--config-dump)"),
)
FAMILY_ORDER = {f.key: i for i, f in enumerate(FAMILIES)}
FAMILY_BY_KEY = {f.key: f for f in FAMILIES}

@dataclass(frozen=True)
class Entry:
    code: str
    id: str
    family: str
    severity: Severity
    title: str          # what a finding means, one line
    statement: str      # the check, stated positively, as the report lists it when it passes
    why: str            # why traffic breaks
    fix: tuple[str, ...]
    docs: tuple[str, ...]
    live: bool = False  # needs the cluster's logs or a --probe: not-run offline, and not in a snapshot
    related: tuple[str, ...] = ()
    explains: tuple[str, ...] = ()  # the access-log symptom classes (checks/attribution.py) it explains
    explains_last: bool = False  # explains them only when no other finding does (the less specific cause)
    outage: bool = False  # as an error, every request it concerns fails: shown before every other finding

    def __hash__(self) -> int:
        """The code names the entry: hashing every text of it was a cost every host of a scan paid."""
        return hash(self.code)


CATALOGUE: tuple[Entry, ...] = (
    Entry("MD101", "vs-mesh-duplicate-host", "routing", Severity.ERROR,
          "Two or more mesh VirtualServices define the same host; sidecars use only one of them",
          "One VirtualService per host for sidecars",
          "Sidecars never merge VirtualServices for a host: the oldest visible one (a private or explicitly "
          "exported one before a public one) wins and the routes of every other one are silently dropped.",
          ("Merge the routes of the ignored VirtualServices into the one in effect, then delete them.",
           "If the split was for ownership, bind the fragments to a gateway instead: only gateways merge them."),
          (_BP + "#split-virtual-services",), related=("IST0109", "KIA1106"), explains=("no-route",)),
    Entry("MD102", "vs-fragment-overlap", "routing", Severity.WARNING,
          "Gateway VirtualService fragments for one host have overlapping matches",
          "Gateway fragments for a host do not overlap",
          "Istio appends the fragments' routes in an order it does not guarantee, so when two fragments can "
          "match the same request, which backend answers can change after any push.",
          ("Give each fragment matches that no other fragment can also match (distinct path prefixes).",
           "Or move the overlapping rules into one VirtualService, where their order is kept."),
          (_BP + "#split-virtual-services",), explains=("no-route",)),
    Entry("MD103", "vs-multiple-catch-all", "routing", Severity.ERROR,
          "More than one catch-all rule among the merged gateway fragments of a host",
          "At most one catch-all route per gateway host",
          "Catch-all routes are moved to the end of the merged list; the first one takes every request that "
          "reaches it, so the others never match anything.",
          ("Keep exactly one catch-all route for the host across all fragments.",
           "Give the other rules an explicit match (a path prefix, a header)."),
          (_BP + "#split-virtual-services",), explains=("no-route",)),
    Entry("MD104", "vs-unreachable-rule", "routing", Severity.WARNING,
          "A rule of a VirtualService can never match: an earlier rule takes all its traffic",
          "No rule hides behind a catch-all or an identical match",
          "Istio stops generating routes at the first catch-all rule of a VirtualService's http list, and at "
          "the first tcp rule without a (scoped) match; a rule whose matches all repeat an earlier rule's is "
          "never chosen either. Those rules never reach Envoy.",
          ("Move the catch-all rule to the end of the VirtualService's list.",
           "Give the shadowed rule a match the earlier rule does not cover, or delete it."),
          (_BP + "#split-virtual-services",), related=("IST0130",), explains=("no-route",)),
    Entry("MD105", "dr-duplicate-subset", "routing", Severity.ERROR,
          "The same subset is defined by more than one merged DestinationRule",
          "Each subset is defined once per host",
          "When DestinationRules for a host merge, the first (oldest) definition of a subset wins and later "
          "ones are discarded whole: their labels and policies are ignored.",
          ("Define the subset in one DestinationRule only; delete it from the others.",),
          (_BP + "#split-destination-rules",), related=("KIA0201",), explains=("no-route",)),
    Entry("MD106", "dr-discarded-traffic-policy", "routing", Severity.WARNING,
          "Several merged DestinationRules carry a top-level trafficPolicy; only the oldest counts",
          "One top-level trafficPolicy per host",
          "The oldest DestinationRule with a top-level trafficPolicy wins it whole; the others' settings "
          "(including tls) are discarded, not merged field by field.",
          ("Move all top-level traffic settings into one DestinationRule.",),
          (_BP + "#split-destination-rules",), explains=("no-route",)),
    Entry("MD107", "dr-shadowed", "routing", Severity.WARNING,
          "A DestinationRule for the host is never used by some client namespace",
          "Every DestinationRule for the host is the one its clients use",
          "Clients look for DestinationRules in their own namespace, then the Service's, then the root "
          "namespace, and stop at the first namespace with a match; exportTo can also hide a rule. A "
          "shadowed rule's subsets and TLS settings do not apply to those clients.",
          ("Delete or narrow the shadowing DestinationRule, or fix exportTo so the intended rule is visible.",),
          (_BP + "#cross-namespace-configuration",), explains=("no-route",)),
    Entry("MD108", "host-name-not-resolved", "routing", Severity.WARNING,
          "A host with a dot that is not an FQDN is taken literally and matches no Service",
          "Host names resolve to Services",
          "Istio expands only names without a dot; `reviews.prod` is used as written and is not "
          "`reviews.prod.svc.cluster.local`, so the rule applies to nothing.",
          ("Write the short name (same namespace) or the full name `name.namespace.svc.cluster.local`.",),
          (_BP + "#cross-namespace-configuration",), related=("IST0174", "KIA0202"), explains=("no-route",)),
    Entry("MD109", "host-not-in-registry", "routing", Severity.WARNING,
          "The host is routed to, but no Service or ServiceEntry defines it",
          "The host exists in the service registry",
          "Istio's service registry holds the cluster's Services and the ServiceEntries' hosts; a route to "
          "any other host has no Envoy cluster behind it (503 NC from sidecars and gateways), and a "
          "VirtualService or DestinationRule for it configures nothing.",
          ("Create the Service or ServiceEntry, or correct the host name in the rules.",),
          (_BP,), live=True, related=("IST0101",), explains=("no-route", "no-cluster"), explains_last=True),
    Entry("MD201", "tls-conflict", "tls", Severity.ERROR,
          "The client's TLS mode cannot talk to the server's mTLS mode on a port",
          "Client TLS matches server mTLS on every port",
          "A client sending plaintext to a server that requires mTLS (or mTLS to one without a sidecar) is "
          "reset at connect: every request fails with 503 until the DestinationRule is fixed or removed.",
          ("Set the DestinationRule's trafficPolicy.tls.mode to ISTIO_MUTUAL (or remove the tls block and "
           "let auto mTLS decide).",
           "Or relax the server side (PeerAuthentication PERMISSIVE) while clients are fixed."),
          (_NET + "#503-errors-after-setting-destination-rule",), related=("IST0113",),
          explains=("server-tls-mismatch", "upstream-connect"), outage=True),
    Entry("MD202", "tls-auto-mtls-blind-spot", "tls", Severity.ERROR,
          "Auto mTLS picks the wrong mode for this server",
          "Auto mTLS chooses a mode the server accepts",
          "Auto mTLS looks only at namespace- and mesh-wide PeerAuthentication; workload and port-level "
          "policies, and headless services with sidecar-less endpoints, make it choose wrongly.",
          ("Set the client TLS mode explicitly in a DestinationRule for the host.",),
          (_NET + "#503-errors-after-setting-destination-rule",),
          explains=("server-tls-mismatch", "upstream-connect"), outage=True),
    Entry("MD203", "peer-authentication-ignored", "tls", Severity.WARNING,
          "A PeerAuthentication has no effect, or competes with another",
          "Every PeerAuthentication takes effect",
          "Selectors in the root namespace, portLevelMtls without a selector and several policies at one "
          "scope are ignored or resolved by age, so the server mode is not what the policy says.",
          ("Keep one PeerAuthentication per scope; use selectors only outside the root namespace.",),
          (_NET + "#503-errors-after-setting-destination-rule",)),
    Entry("MD301", "subset-not-defined", "reconfiguration", Severity.ERROR,
          "A route targets a subset missing from the DestinationRule its clients use",
          "Every routed subset is defined for its clients",
          "Envoy gets a route to a cluster that does not exist and answers 503 (flag NC; NR before Istio "
          "1.10) until the subset reaches the proxies.",
          ("Define the subset in the DestinationRule the clients use, wait until proxies have it, then "
           "apply the VirtualService (make-before-break).",),
          (_BP + "#avoid-503-errors-while-reconfiguring-service-routes",), related=("IST0101",),
          explains=("no-cluster",), outage=True),
    Entry("MD302", "subset-no-ready-pods", "reconfiguration", Severity.ERROR,
          "A subset's labels select no ready pod of the Service",
          "Every subset selects ready pods",
          "The subset's cluster exists but is empty: requests routed to it get 503 UH 'no healthy upstream'. "
          "Subset labels match the pod's labels plus the topology labels istiod adds from its Node "
          "(region, zone, subzone, cluster, network, hostname).",
          ("Fix the subset labels to match the pods' labels, or scale up the version it names.",),
          (_BP + "#avoid-503-errors-while-reconfiguring-service-routes",),
          explains=("no-healthy-upstream",), outage=True),
    Entry("MD303", "proxies-not-synced", "reconfiguration", Severity.WARNING,
          "Proxies for the host are not in sync with istiod",
          "The host's proxies have the latest configuration",
          "Configuration reaches proxies eventually; a stale proxy still routes by the old rules.",
          ("Wait and re-check; if it persists, look at istiod's logs and the proxy's connection.",),
          (_BP + "#avoid-503-errors-while-reconfiguring-service-routes",), live=True),
    Entry("MD304", "unsafe-apply-order", "reconfiguration", Severity.ERROR,
          "Applying the change in one go opens a 503 window",
          "The change can be applied safely",
          "Objects reach istiod in no particular order: routes that arrive before their subsets, or subsets "
          "removed while still routed to, give 503s.",
          ("Apply DestinationRules that add subsets first, then VirtualServices, then DestinationRules "
           "that remove subsets; wait for propagation between steps.",),
          (_BP + "#avoid-503-errors-while-reconfiguring-service-routes",)),
    Entry("MD401", "gateway-route-ignores-subsets", "ingress", Severity.WARNING,
          "The gateway routes to the host without the subsets the mesh route uses",
          "Gateway traffic follows the host's version routing",
          "Requests through the gateway are routed by the gateway-bound VirtualService only; the mesh "
          "VirtualService's subset rules never apply to them.",
          ("Add the subset to the destination in the gateway-bound VirtualService.",
           "Or use one VirtualService bound to both `mesh` and the gateway, with per-rule match.gateways."),
          (_NET + "#route-rules-have-no-effect-on-ingress-gateway-requests",)),
    Entry("MD402", "gateway-not-found", "ingress", Severity.ERROR,
          "A VirtualService references a Gateway that does not exist",
          "Every referenced Gateway exists",
          "Routes bound to a missing Gateway are never configured on any gateway.",
          ("Create the Gateway or fix the reference (`name` means the VirtualService's namespace).",),
          (_NET + "#route-rules-have-no-effect-on-ingress-gateway-requests",), related=("IST0101",)),
    Entry("MD403", "host-not-on-gateway", "ingress", Severity.WARNING,
          "A gateway-bound VirtualService host is not served by the Gateway",
          "Gateway VirtualService hosts are served by their Gateway",
          "The gateway only uses VirtualServices whose hosts match one of its servers' hosts.",
          ("Add the host to a server of the Gateway, or fix the VirtualService host.",),
          (_NET + "#route-rules-have-no-effect-on-ingress-gateway-requests",)),
    Entry("MD404", "gateway-selects-no-pods", "ingress", Severity.ERROR,
          "The Gateway's selector matches no gateway pod",
          "Every Gateway selects gateway pods",
          "A Gateway without pods configures nothing: traffic for its hosts is not accepted anywhere.",
          ("Fix the Gateway's selector to match the ingress gateway pods' labels.",),
          (_NET + "#route-rules-have-no-effect-on-ingress-gateway-requests",), related=("IST0101",)),
    Entry("MD450", "route-not-accepted", "gatewayapi", Severity.ERROR,
          "A Gateway API route is not attached to a parent it names",
          "Every route is accepted by the parents it names",
          "A route that its Gateway does not accept (a missing Gateway or listener, a hostname no listener "
          "serves, a namespace or route kind the listener does not admit) is configured nowhere: the gateway "
          "answers 404 for its hostnames. A mesh route whose parent Service does not exist routes nothing.",
          ("Point the parentRef at an existing Gateway and listener (name, sectionName, port), or change the "
           "listener's hostname or allowedRoutes (namespaces, kinds) to admit the route.",),
          (_GWAPI, _GAMMA), explains=("no-route",)),
    Entry("MD451", "backend-not-found", "gatewayapi", Severity.ERROR,
          "A Gateway API route sends traffic to a Service or port that does not exist",
          "Every route backend is an existing Service port",
          "A backendRef to a Service that does not exist, or to a port the Service does not have, points at "
          "a cluster that does not exist: the requests its weight would send there are answered 500 (the "
          "Gateway API's rule; Istio sets Gateway API routes to answer 500 when their cluster is missing, "
          "response flag NC).",
          ("Fix the backendRef's name, namespace or port, or create the Service.",),
          (_GWAPI,), explains=("no-cluster",)),
    Entry("MD452", "reference-grant-missing", "gatewayapi", Severity.ERROR,
          "A reference into another namespace is not permitted by a ReferenceGrant",
          "Every cross-namespace reference of a Gateway route is granted",
          "A Gateway's route may send traffic to a Service of another namespace (and a Gateway use a Secret of "
          "another namespace) only when a ReferenceGrant there allows it; Istio treats the backend as invalid "
          "(500 for its share of the traffic) and does not load the certificate.",
          ("Create a ReferenceGrant in the target's namespace that allows the route's kind and namespace "
           "(`from`) to refer to the Service or Secret (`to`).",),
          (_GRANT, _GWAPI)),
    Entry("MD453", "route-conflict", "gatewayapi", Severity.WARNING,
          "Two routes on the same parent and hostname have identical matches; only one of them is used",
          "Routes on a parent and hostname never repeat a match",
          "Routes of one parent and hostname are merged; for identical matches the oldest route (then the "
          "first by namespace/name) wins and the other rule never matches a request.",
          ("Give the rules distinct matches, or merge them into one route so that the order is explicit.",),
          (_GWAPI,)),
    Entry("MD501", "port-protocol-undeclared", "workloads", Severity.WARNING,
          "A Service port declares no protocol (name prefix or appProtocol)",
          "Every Service port declares its protocol",
          "Istio then sniffs the protocol or uses TCP; server-first protocols stall under sniffing and "
          "HTTP routing rules do not apply to TCP ports.",
          ("Name the port `<protocol>[-<suffix>]` (http, http2, grpc, tcp, tls...) or set appProtocol.",),
          (_PROTO, _REQ), related=("IST0118",)),
    Entry("MD502", "pod-without-sidecar", "workloads", Severity.WARNING,
          "Pods behind the host run without the istio-proxy sidecar",
          "Every pod behind the host runs the istio-proxy sidecar",
          "A pod without a sidecar gets none of the mesh's routing or TLS: clients that require mTLS "
          "cannot reach it, and it ignores VirtualService rules for its own outbound calls. Pods that opted "
          "out (`sidecar.istio.io/inject: \"false\"`) are only noted (info), unless the Service's other pods "
          "have sidecars or mesh configuration (a VirtualService, DestinationRule or STRICT policy) targets it.",
          ("Enable injection for the namespace (`kubectl label namespace NS istio-injection=enabled`, or "
           "the revision label) and restart the workload (`kubectl rollout restart deployment/NAME -n NS`).",
           "Remove `sidecar.istio.io/inject: \"false\"` from the pod template if set; hostNetwork pods are "
           "never injected."),
          (_REQ,)),
    Entry("MD503", "pod-missing-app-version-labels", "workloads", Severity.INFO,
          "Pods lack app/version labels",
          "Pods carry app and version labels",
          "Telemetry and tracing group workloads by these labels; without them versions are hard to tell apart.",
          ("Add `app` and `version` labels to the pod template.",), (_REQ,)),
    Entry("MD504", "pod-uid-1337", "workloads", Severity.ERROR,
          "An application container runs as UID 1337, reserved for the proxy",
          "No application container runs as UID 1337",
          "Traffic from UID 1337 bypasses the sidecar's redirection, so the application's outbound traffic "
          "leaves the mesh.",
          ("Run the application as another user ID.",), (_REQ,)),
    Entry("MD505", "port-protocol-collision", "workloads", Severity.ERROR,
          "A pod is selected by Services that use one port with different protocols",
          "Services sharing a pod port agree on its protocol",
          "Istio builds one listener per pod port; conflicting protocols make one Service's traffic be "
          "handled with the other's protocol.",
          ("Use the same protocol prefix for that port in every Service, or stop selecting the pod from one.",),
          (_REQ,), related=("IST0116",)),
    Entry("MD506", "service-no-ready-endpoints", "workloads", Severity.ERROR,
          "The Service has no ready endpoints",
          "The Service has ready endpoints",
          "With no ready endpoint every request to the host fails: 503 UH 'no healthy upstream' from a "
          "sidecar, connection refused without one.",
          ("Find why the pods are not ready: `kubectl get pods -n NS -l SELECTOR` and `kubectl describe pod`.",
           "If no pod matches, compare the Service selector with the pod labels."),
          (_NET,), explains=("no-healthy-upstream", "ztunnel-connect"), explains_last=True, outage=True),
    Entry("MD507", "target-port-not-exposed", "workloads", Severity.WARNING,
          "A Service targetPort is not a container port of the selected pods",
          "Every targetPort is a container port",
          "A named targetPort that no container declares gets no endpoints; a numbered one not declared "
          "may not be captured as expected.",
          ("Declare the port in the container spec, or fix the Service's targetPort.",), (_REQ,)),
    Entry("MD508", "port-reserved-by-istio", "workloads", Severity.WARNING,
          "An application port collides with a port the sidecar or istiod uses",
          "Application ports stay clear of Istio's ports",
          "Envoy and the istio-agent listen on 15000-15090 inside every injected pod; an application on one of "
          "those ports fails to bind or has its traffic taken by the proxy.",
          ("Move the application (and the Service targetPort) to a port outside 15000-15090.",), (_REQ,)),
    Entry("MD550", "ambient-l7-without-waypoint", "ambient", Severity.WARNING,
          "Layer-7 rules target an ambient host that no waypoint serves; ambient clients ignore them",
          "Layer-7 rules on ambient hosts have a waypoint to apply them",
          "In ambient mode ztunnel moves bytes between pods (mutual TLS, layer-4 policy) and never looks at "
          "HTTP: VirtualService http routes, retries, faults and timeouts, DestinationRule subsets and traffic "
          "policies are applied only by an Envoy on the path. Without a waypoint for the Service, traffic from "
          "ambient clients goes straight to the pods and these rules do nothing; only clients with a sidecar "
          "and gateways apply them.",
          ("Deploy a waypoint in the namespace and enrol the Service or namespace with `istio.io/use-waypoint`.",
           "Or move the rules to where they run (a gateway), if no mesh client needs them."),
          (_AMBIENT + "waypoint/", _AMBIENT + "l7-features/")),
    Entry("MD551", "waypoint-not-ready", "ambient", Severity.ERROR,
          "The host's Service, namespace or pods name a waypoint that does not serve them",
          "Every waypoint the host asks for exists, is ready and takes its traffic",
          "istio.io/use-waypoint names a Gateway; istiod gives the Service a waypoint only if that Gateway "
          "exists, has an address (its proxy became ready) and takes this kind of traffic (istio.io/waypoint-for). "
          "Otherwise ztunnel sends the traffic straight to the pods and the layer-7 rules and the authorization "
          "policies enforced at the waypoint are skipped; a waypoint whose pods are gone fails the connections.",
          ("Create the waypoint (`istioctl waypoint apply`), fix its pods, or set istio.io/waypoint-for, or "
           "remove the label that names it.",),
          (_AMBIENT + "waypoint/",), related=("IST0171",), explains=("ztunnel-connect",)),
    Entry("MD552", "ambient-not-captured", "ambient", Severity.WARNING,
          "Pods meant to run in ambient mode were never captured by ztunnel",
          "Every pod meant for ambient is captured by ztunnel",
          "istio-cni captures a pod of an ambient namespace when it starts and marks it with "
          "`ambient.istio.io/redirection: enabled`. A pod that started before istio-cni ran on its node, or "
          "on a node without ztunnel, keeps running outside the mesh: no mutual TLS, no policy, and clients "
          "that require STRICT mTLS cannot reach it.",
          ("Make sure istio-cni and ztunnel run on every node, then restart the pods so they are captured.",),
          (_AMBIENT + "add-workloads/",), explains=("ztunnel-connect",), explains_last=True),
    Entry("MD601", "http10-rejected", "http10", Severity.ERROR,
          "Access logs show HTTP/1.0 requests rejected with 426",
          "No HTTP/1.0 request is rejected",
          "Envoy rejects HTTP/1.0 with 426 Upgrade Required unless HTTP/1.0 acceptance is switched on.",
          ("Make the client speak HTTP/1.1, or set ISTIO_META_HTTP10=\"1\" on the receiving proxies.",),
          (_NET + "#envoy-wont-connect-to-my-http10-service",), live=True, explains=("http10-rejected",)),
    Entry("MD602", "nginx-http10-upstream", "http10", Severity.WARNING,
          "An NGINX config proxies to the host without `proxy_http_version 1.1`",
          "NGINX proxies to the host with HTTP/1.1",
          "NGINX speaks HTTP/1.0 to upstreams by default, which Envoy rejects.",
          ("Add `proxy_http_version 1.1;` (and `proxy_set_header Connection \"\";`) to the location.",),
          (_NET + "#envoy-wont-connect-to-my-http10-service",), explains=("http10-rejected",)),
    Entry("MD603", "http10-switch-misconfigured", "http10", Severity.WARNING,
          "HTTP/1.0 acceptance is set with the wrong key or value",
          "HTTP/1.0 acceptance is configured correctly",
          "Only ISTIO_META_HTTP10 (or PILOT_HTTP10 on istiod) with the value \"1\" switches it on.",
          ("Use `ISTIO_META_HTTP10: \"1\"` in the proxy's metadata.",),
          (_NET + "#envoy-wont-connect-to-my-http10-service",), explains=("http10-rejected",)),
    Entry("MD604", "http10-upstream-app", "http10", Severity.INFO,
          "The application behind the host answers with HTTP/1.0",
          "The application answers with HTTP/1.1",
          "An HTTP/1.0 upstream works poorly behind Envoy (no keep-alive, chunking).",
          ("Configure the application server for HTTP/1.1.",),
          (_NET + "#envoy-wont-connect-to-my-http10-service",), live=True),
    Entry("MD701", "cert-rotation-restarts-envoy", "tcp", Severity.WARNING,
          "File-mounted certificates make Envoy restart at every rotation",
          "Certificate rotation does not restart Envoy",
          "With Citadel's secret-mounted certificates Envoy hot-restarts on rotation and drops long-lived "
          "TCP connections.",
          ("Move to SDS (Istio 1.5+ does it by default) or upgrade.",
           "Last resort: disable mTLS and scale istio-citadel to zero, giving up workload identity."),
          (_NET,)),
    Entry("MD702", "sidecar-restarts", "tcp", Severity.WARNING,
          "istio-proxy containers of the host restarted recently",
          "Sidecars of the host are stable",
          "Each sidecar restart drops every connection through it.",
          ("Look at the last termination reason: `kubectl describe pod` and the istio-proxy logs.",),
          (_NET,), live=True),
    Entry("MD703", "tcp-idle-timeout", "tcp", Severity.INFO,
          "Idle TCP connections to the host are cut by the proxy's idle timeout",
          "Idle timeout suits the host's long-lived connections",
          "Envoy closes TCP connections idle for longer than the idle timeout (1 hour by default).",
          ("Raise connectionPool.tcp.idleTimeout in the DestinationRule, or send keep-alives.",),
          (_BP,)),
    Entry("MD801", "proxy-missing-cluster", "proxyconfig", Severity.ERROR,
          "A proxy lacks a cluster the configuration predicts, or its own routes send to, for the host",
          "Client and gateway proxies hold every cluster the model predicts",
          "Istio builds one cluster per Service port and per subset of the DestinationRule in effect; a proxy "
          "without one answers 503 (NC; 500 on a Gateway API gateway) for every request routed to it, whatever "
          "the configuration says.",
          ("Check the proxy's sync state (`istioctl proxy-status`); restart the pod if it stays stale.",),
          (_DEBUG,), explains=("no-cluster",)),
    Entry("MD802", "proxy-route-differs", "proxyconfig", Severity.WARNING,
          "A proxy routes the host by other rules, in another order, than the model predicts",
          "Client and gateway proxies route the host as the model predicts",
          "The routes a proxy holds were produced by another VirtualService (or Gateway API route) than the one "
          "in effect by the configuration, or come in another order or past the catch-all where Istio stops: "
          "stale configuration, or a rule the model does not know, so the routing findings are unconfirmed for "
          "that proxy.",
          ("Check the proxy's sync state (`istioctl proxy-status`) and compare `istioctl proxy-config routes`.",),
          (_DEBUG,)),
    Entry("MD803", "proxy-tls-differs", "proxyconfig", Severity.ERROR,
          "A client proxy sends different TLS to the host than the model predicts",
          "Client proxies send the TLS the model predicts",
          "The upstream TLS of the proxy's cluster (auto mTLS, ISTIO_MUTUAL, TLS or plaintext) is not what "
          "the DestinationRules and mesh settings give: the TLS verdicts are unconfirmed for that proxy.",
          ("Check the proxy's sync state (`istioctl proxy-status`) and compare `istioctl proxy-config cluster`.",),
          (_DEBUG,)),
    Entry("MD804", "proxy-inbound-mtls-differs", "proxyconfig", Severity.ERROR,
          "A proxy of the host accepts other traffic on its port than the model's server mTLS mode",
          "The host's proxies accept what their PeerAuthentication says",
          "The inbound filter chains of the pod port decide what a server proxy accepts: mTLS only (STRICT), "
          "both (PERMISSIVE) or plaintext (DISABLE). When they differ from the PeerAuthentications in effect, "
          "the TLS verdicts for that pod are unconfirmed (stale configuration, or a policy the model misses).",
          ("Check the proxy's sync state (`istioctl proxy-status`) and `istioctl x describe pod`.",),
          (_DEBUG,)),
    Entry("MD805", "proxy-protocol-differs", "proxyconfig", Severity.ERROR,
          "A client proxy handles a port of the host with another protocol than the model derives",
          "Client proxies handle each port with the derived protocol",
          "A port the model derives as HTTP that the proxy forwards as plain TCP (or the reverse) gets no "
          "HTTP routing at all (or breaks a protocol that is not HTTP): every routing finding for the port "
          "is unconfirmed for that proxy.",
          ("Check the proxy's sync state (`istioctl proxy-status`) and the Service port's name or appProtocol.",),
          (_DEBUG, _PROTO)),
)

BY_CODE: dict[str, Entry] = {e.code: e for e in CATALOGUE}
BY_ID: dict[str, Entry] = {e.id: e for e in CATALOGUE}


def lookup(code_or_id: str) -> Entry | None:
    key = code_or_id.strip()
    return BY_CODE.get(key.upper()) or BY_ID.get(key.lower())
