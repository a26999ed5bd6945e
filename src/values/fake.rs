//! Fake values: names, addresses, words and the like, as scenarios name them.

use fake::Fake;
use fake::faker::address::en::{CityName, CountryName, StreetName};
use fake::faker::company::en::CompanyName;
use fake::faker::internet::en::Username;
use fake::faker::lorem::en::{Paragraph, Sentence, Word};
use fake::faker::name::en::{FirstName, LastName, Name};
use fake::faker::phone_number::en::PhoneNumber;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Fake value kinds for parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FakeKind {
    /// full name
    Name,
    /// first name
    FirstName,
    /// last name
    LastName,
    /// e-mail address
    Email,
    /// user name
    Username,
    /// city
    City,
    /// country
    Country,
    /// phone number
    Phone,
    /// company
    Company,
    /// a word
    Word,
    /// a street address
    Street,
    /// a sentence
    Sentence,
    /// a paragraph
    Paragraph,
    /// a UUID
    Uuid,
}

impl FakeKind {
    /// Every kind with its scenario name.
    pub(crate) const ALL: [(&'static str, FakeKind); 14] = [
        ("name", FakeKind::Name),
        ("first_name", FakeKind::FirstName),
        ("last_name", FakeKind::LastName),
        ("email", FakeKind::Email),
        ("username", FakeKind::Username),
        ("city", FakeKind::City),
        ("country", FakeKind::Country),
        ("phone", FakeKind::Phone),
        ("company", FakeKind::Company),
        ("street", FakeKind::Street),
        ("word", FakeKind::Word),
        ("sentence", FakeKind::Sentence),
        ("paragraph", FakeKind::Paragraph),
        ("uuid", FakeKind::Uuid),
    ];
}

/// One fake value of a kind, as text.
pub(crate) fn fake(kind: FakeKind, rng: &mut ChaCha8Rng) -> String {
    match kind {
        FakeKind::Name => Name().fake_with_rng(rng),
        FakeKind::FirstName => FirstName().fake_with_rng(rng),
        FakeKind::LastName => LastName().fake_with_rng(rng),
        FakeKind::Email => {
            let first: &str = FirstName().fake_with_rng(rng);
            let last: &str = LastName().fake_with_rng(rng);
            let mut s = String::with_capacity(first.len() + last.len() + 20);
            for c in first.chars().chain(['.']).chain(last.chars()) {
                if c.is_ascii_alphanumeric() || c == '.' {
                    s.push(c.to_ascii_lowercase());
                }
            }
            let domain = ["example.com", "example.net", "example.org", "mail.test"]
                [rng.random_range(0..4usize)];
            s.push('@');
            s.push_str(domain);
            s
        }
        FakeKind::Username => Username().fake_with_rng(rng),
        FakeKind::City => CityName().fake_with_rng(rng),
        FakeKind::Country => CountryName().fake_with_rng(rng),
        FakeKind::Phone => PhoneNumber().fake_with_rng(rng),
        FakeKind::Company => CompanyName().fake_with_rng(rng),
        FakeKind::Street => StreetName().fake_with_rng(rng),
        FakeKind::Word => Word().fake_with_rng(rng),
        FakeKind::Sentence => Sentence(4..10).fake_with_rng(rng),
        FakeKind::Paragraph => Paragraph(2..5).fake_with_rng(rng),
        FakeKind::Uuid => uuid::Builder::from_random_bytes(rng.random())
            .into_uuid()
            .to_string(),
    }
}
