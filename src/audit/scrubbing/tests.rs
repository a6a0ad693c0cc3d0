use super::*;
use serde_json::Value;

fn serialized(pattern: &str, replacement: &str) -> Scrubber {
    Scrubber {
        rules: Vec::new(),
        serialized: Some(SerializedRule::new(Regex::new(pattern).unwrap(), replacement).unwrap()),
    }
}

fn literal(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

#[test]
fn ips_and_emails_are_replaced_and_json_stays_json() {
    let scrubber = Scrubber {
        rules: vec![ip_rule(), email_rule()],
        serialized: None,
    };
    let event = r#"{"sourceIPs":["198.51.100.23"],"user":{"username":"élodie@example.com"},"note":"from 10.0.0.1 ✓","v":"v1.2.3.4"}"#;
    let out = scrubber.scrub(event).unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["sourceIPs"][0], "xxx.xxx.xxx.xxx");
    // The pattern is ASCII, as the Datadog Forwarder's is.
    assert_eq!(v["user"]["username"], "éxxxxx@xxxxx.com");
    assert_eq!(v["note"], "from xxx.xxx.xxx.xxx ✓");
    // The Forwarder's pattern has no word boundaries.
    assert_eq!(v["v"], "vxxx.xxx.xxx.xxx");
    assert!(scrubber.scrub(r#"{"verb":"get"}"#).is_none());
    assert_eq!(
        scrubber.scrub("plain 192.0.2.1 text").unwrap(),
        "plain xxx.xxx.xxx.xxx text"
    );
}

/// Review finding: the built-in rules matched from inside escapes
/// (`\u003c` is how the API server writes `<`), leaving invalid JSON,
/// and missed addresses right after `\n`.
#[test]
fn escapes_are_never_cut_and_hide_nothing() {
    let scrubber = Scrubber {
        rules: vec![ip_rule(), email_rule()],
        serialized: None,
    };
    let event =
        r#"{"from":"Ops \u003cops@example.com\u003e","hosts":"a\n10.1.2.3\tb","path":"C:\\new"}"#;
    let out = scrubber.scrub(event).unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["from"], "Ops <xxxxx@xxxxx.com>");
    assert_eq!(v["hosts"], "a\nxxx.xxx.xxx.xxx\tb");
    assert_eq!(v["path"], "C:\\new");
    assert!(has_letter_escape(r#""a\u0041""#));
    let only = r#"{"sourceIPs":["2600:1f18::1"],"hosts":"a\n10.1.2.3"}"#;
    let v: Value = serde_json::from_str(&scrubber.scrub(only).unwrap()).unwrap();
    assert_eq!(v["hosts"], "a\nxxx.xxx.xxx.xxx");
    assert!(scrubber.scrub(r#"{"note":"a\nb"}"#).is_none());
    assert!(!has_letter_escape(r#""C:\\new \"q\" \/""#));
}

/// Review finding (issue 14): an event with an escape that serde_json
/// cannot hold as a value (a number like 1e400) kept its addresses.
#[test]
fn an_event_the_parser_cannot_hold_is_still_scrubbed() {
    let scrubber = Scrubber {
        rules: vec![ip_rule()],
        serialized: None,
    };
    let event = r#"{"requestURI":"/x?a=1\u0026b=2","n":1e400,"sourceIPs":["203.0.113.9"]}"#;
    let out = scrubber.scrub(event).unwrap();
    assert!(!out.contains("203.0.113.9"), "{out}");
    assert!(out.contains(r"\u0026"), "{out}");
}

/// Issue 12 (c): the rule sees the message as the Datadog Forwarder
/// serialises it, so a rule written against `\"key\":\"value\"` works,
/// and one written against the decoded text does not.
#[test]
fn the_scrubbing_rule_sees_the_serialised_message() {
    let event = r#"{"requestObject":{"password":"hunter2","user":"a"},"note":"line\nnext"}"#;
    let forwarder_rule = serialized(
        r#"\\"password\\":\\"[^\\]*\\""#,
        r#"\"password\":\"xxxxx\""#,
    );
    let Scrubbed::Changed(out) = forwarder_rule.scrub_message(&literal(event)) else {
        panic!("a rule for the serialised form must match")
    };
    let text: String = serde_json::from_str(&out).unwrap();
    assert_eq!(
        text,
        r#"{"requestObject":{"password":"xxxxx","user":"a"},"note":"line\nnext"}"#
    );
    let raw_rule = serialized(r#""password":"[^"]*""#, r#""password":"xxxxx""#);
    assert_eq!(raw_rule.scrub_message(&literal(event)), Scrubbed::Unchanged);
    // The newline is `\n` in the serialised form, whatever escape the
    // message came with.
    let newline = serialized(r"line\\nnext", "joined");
    for form in [r#""line\nnext""#, r#""line\u000anext""#] {
        let Scrubbed::Changed(out) = newline.scrub_message(form) else {
            panic!("{form}")
        };
        assert!(out.contains("joined"), "{out}");
    }
}

#[test]
fn a_rule_that_breaks_the_string_withholds_the_message() {
    // Eats the backslash of an escaped quote: the Forwarder would send a
    // body the intake rejects.
    let rule = serialized(r"\\", "");
    let Scrubbed::Withheld(out) = rule.scrub_message(&literal(r#"{"a":"b"}"#)) else {
        panic!("not withheld")
    };
    assert_eq!(
        serde_json::from_str::<String>(&out).unwrap(),
        WITHHELD_BY_RULE
    );
    // A message that cannot be decoded (a lone surrogate) is taken as
    // it is: left alone when the rule does not match, scrubbed (not
    // withheld) when it does, since the surrogate is not the rule's doing.
    let rule = serialized("secret", "x");
    assert_eq!(rule.scrub_message(r#""a\ud800b""#), Scrubbed::Unchanged);
    assert_eq!(
        rule.scrub_message(r#""a\ud800 secret""#),
        Scrubbed::Changed(r#""a\ud800 x""#.to_owned())
    );
    for (literal, valid) in [
        (r#""""#, true),
        (r#""a\"b\\c\/\n\u00e9""#, true),
        (r#""a"b""#, false),
        (r#""a\x""#, false),
        (r#""a\u12""#, false),
        ("\"a\nb\"", false),
        (r#""a\""#, false),
        ("a", false),
    ] {
        assert_eq!(is_json_string(literal), valid, "{literal}");
    }
}

/// Review finding: REDACT_IP on a message that cannot be decoded wrote
/// it as a string inside a string.
#[test]
fn an_undecodable_message_is_scrubbed_as_it_stands() {
    let scrubber = Scrubber {
        rules: vec![ip_rule()],
        serialized: None,
    };
    assert_eq!(
        scrubber.scrub_message(r#""{\"ip\":\"10.0.0.1\",\"x\":\"\ud800\"}""#),
        Scrubbed::Changed(r#""{\"ip\":\"xxx.xxx.xxx.xxx\",\"x\":\"\ud800\"}""#.to_owned())
    );
}

#[test]
fn a_rule_written_for_the_decoded_text_is_told_apart() {
    let rule = |pattern: &str| SerializedRule::new(Regex::new(pattern).unwrap(), "").unwrap();
    assert!(rule(r#""password":"[^"]*""#).has_bare_quote());
    assert!(!rule(r#"\\"password\\":\\"[^\\]*\\""#).has_bare_quote());
    assert!(!rule(r"AROA[A-Z0-9]+").has_bare_quote());
}

#[test]
fn built_in_rules_come_before_the_serialised_rule() {
    let scrubber = Scrubber {
        rules: vec![ip_rule()],
        serialized: Some(SerializedRule::new(Regex::new(r"xxx\.xxx").unwrap(), "Z").unwrap()),
    };
    let Scrubbed::Changed(out) = scrubber.scrub_message(&literal("from 10.0.0.1")) else {
        panic!("unchanged")
    };
    assert_eq!(out, literal("from Z.Z"));
}

#[test]
fn python_replacements_are_translated() {
    let pattern = Regex::new(r"(\d+)\.(\d+)\.(?P<c>\d+)\.(\d+)").unwrap();
    let translate = |r: &str| replacement_from_python(&pattern, r);
    assert_eq!(translate(r"\1.\2.x.x").unwrap(), "${1}.${2}.x.x");
    assert_eq!(translate(r"\g<c>-\g<4>").unwrap(), "${c}-${4}");
    assert_eq!(translate(r"a\nb\\c\&d").unwrap(), "a\nb\\c\\&d");
    assert_eq!(translate("$5 and $name").unwrap(), "$$5 and $$name");
    assert_eq!(translate(r"\0").unwrap(), "\0");
    // Python reads three octal digits as a character, two digits as a group.
    assert_eq!(translate(r"\101-\1").unwrap(), "A-${1}");
    for bad in [
        r"\5",
        r"\g<nope>",
        r"\g<9>",
        r"\q",
        "end\\",
        r"\gx",
        r"\g<1",
        r"\400",
        r"\128",
    ] {
        assert!(translate(bad).is_err(), "{bad}");
    }
    let rule = SerializedRule::new(pattern, r"\1.\2.x.x").unwrap();
    let scrubber = Scrubber {
        rules: Vec::new(),
        serialized: Some(rule),
    };
    assert_eq!(
        scrubber.scrub_message(&literal("ip 10.1.2.3, cost $5")),
        Scrubbed::Changed(literal("ip 10.1.x.x, cost $5"))
    );
}
