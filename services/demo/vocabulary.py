"""The words the demo dataset is made of: people, organizations, goals, notes and reasons."""

from __future__ import annotations

OWNERS: tuple[str, ...] = ("maria@example.com", "li.wei@example.com", "sam.okafor@example.com")

FIRST_NAMES: tuple[str, ...] = (
    "Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Donald", "Frances", "Linus",
    "Margaret", "Dennis", "Radia", "Ken", "Hedy", "Tim", "Annie", "Guido", "Sophie", "John",
    "Joan", "Niklaus", "Mary", "Bjarne", "Karen", "Leslie", "Shafi", "Yukihiro", "Evelyn",
    "Whitfield", "Jean", "Amara", "Tomás", "Ingrid", "Kwame", "Priya", "Mei", "Olu", "Lucía",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Allen",
    "Torvalds", "Hamilton", "Ritchie", "Perlman", "Thompson", "Lamarr", "Berners-Lee",
    "Easley", "van Rossum", "Wilson", "Backus", "Clarke", "Wirth", "Keller", "Stroustrup",
    "Spärck Jones", "Lamport", "Goldwasser", "Matsumoto", "Boyd", "Diffie", "Sammet",
    "Okonkwo", "Ferreira", "Lindqvist", "Mensah", "Raman", "Chen", "Adeyemi", "Moreno",
)  # fmt: skip
ORGANIZATIONS: tuple[str, ...] = (
    "Northwind Labs", "Blue Heron Studio", "Copperleaf Foundation", "Meridian Health",
    "Open Orchard", "Tidewater Press", "Quarry Robotics", "Lumen Institute", "Fieldnote Co",
    "Atlas Cooperative", "Saffron Systems", "Harbor & Pine", "Kestrel Analytics",
    "Juniper School", "Basalt Energy", "Wren Media", "Solstice Ventures", "Cobalt Civic",
    "Riverbend University", "Paper Lantern", "Ironbark Logistics", "Aurora Clinics",
)  # fmt: skip
TAGS: tuple[str, ...] = (
    "ai", "education", "health", "climate", "open-source", "media", "investor", "speaker",
    "research", "nonprofit", "design", "policy", "fintech", "community", "hiring", "advisor",
)  # fmt: skip
CHANNELS: tuple[str, ...] = (
    "conference", "introduction", "linkedin", "meetup", "podcast", "webinar", "cold-email",
    "alumni-network", "customer-referral",
)  # fmt: skip
GOALS: tuple[str, ...] = (
    "reach", "hiring", "research", "funding", "teaching", "brand", "new-market",
    "product-feedback", "community", "publishing",
)  # fmt: skip
PURPOSES: tuple[str, ...] = (
    "co-host a workshop series for practitioners",
    "get introduced to their research group",
    "explore a joint grant application",
    "find a design partner for the new product",
    "build a speaking slot at their annual conference",
    "co-author a course on the subject",
    "learn how they run their community programme",
    "open a channel for hiring referrals",
    "pilot our tool with one of their teams",
    "share distribution: newsletter swap",
)  # fmt: skip
PROPOSALS: tuple[tuple[str, str], ...] = (
    ("Joint workshop series", "workshop"),
    ("Co-authored course", "course"),
    ("Research pilot", "pilot"),
    ("Conference keynote and panel", "speaking"),
    ("Newsletter swap", "marketing"),
    ("Design partnership", "product"),
    ("Grant consortium", "funding"),
    ("Mentoring programme", "community"),
)  # fmt: skip
NOTES: dict[str, tuple[str, ...]] = {
    "meeting": (
        "Coffee; walked through their roadmap.",
        "Long lunch: they want to grow their audience.",
        "Met at their office; whiteboarded a pilot.",
        "Video call with their team lead.",
    ),
    "call": (
        "Quick call to compare notes.",
        "They called about timing for next quarter.",
        "Checked in on the open questions.",
    ),
    "email": (
        "Sent the article we discussed.",
        "Shared a draft outline.",
        "Follow-up with the numbers they asked for.",
        "Thanked them for the introduction.",
    ),
    "message": ("Short note after their talk.", "Congratulated them on the launch."),
    "event": ("Both attended the regional meetup.",),
    "social": ("Commented on their post.",),
    "intro": ("Introduced them to a colleague.",),
}
STAGE_REASONS: dict[str, tuple[str, ...]] = {
    "skip": (
        "we already work together informally: no need to build awareness",
        "they came to us with a concrete request",
        "long-time acquaintance from a previous job",
    ),
    "back": (
        "our champion left the company",
        "they paused all new initiatives this quarter",
        "budget was frozen; back to building trust",
    ),
    "close": (
        "no response after several attempts",
        "they were acquired and the team dissolved",
        "priorities diverged",
    ),
    "reopen": ("they reached out again after a year", "met again at a conference"),
    "forward": ("good momentum after the last meeting", "they asked for a proposal"),
}
DECLINE_REASONS: tuple[str, ...] = (
    "no budget this year",
    "timing: they are mid-reorganisation",
    "not aligned with their goals right now",
)  # fmt: skip
WITHDRAW_REASONS: tuple[str, ...] = (
    "we re-scoped the offer",
    "superseded by a smaller pilot",
    "our team could not staff it",
)  # fmt: skip
