"""Scripted mono calls for the labelled diarization set (``generate_samples.py --set
diarization``, written to ``data/diarization/``).

Every call is one mixed (mono) channel with speakers that talk over each other now and
then: each line is a normal turn, a backchannel from the listener ("Mm-hmm.", "Okay.")
dropped into a short pause, or a cut-in that starts 0.3-1.0 s before the previous line
ends. Speaker ids are ``spk_agent``, ``spk_customer`` and ``spk_supervisor``; roles are
``agent`` (company side, the supervisor included) and ``customer``.

Voices (keys of ``generate_samples.build_diarization_voices``): ``piper-joe`` (male),
``espeak-m3`` (male), ``espeak-f5`` and ``espeak-f3`` (female). The two pairs of the same
gender (joe/m3 and f5/f3) appear together in some calls on purpose.

Pure data: no imports from the generator, so both modules stay import-cycle free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Cue = Literal["turn", "backchannel", "overlap"]

A, C, S = "spk_agent", "spk_customer", "spk_supervisor"
ROLE_OF = {A: "agent", C: "customer", S: "agent"}


@dataclass(frozen=True)
class Line:
    """One line of a call: who says what, and how it is placed after the previous line."""

    speaker: str
    text: str
    cue: Cue = "turn"


@dataclass(frozen=True)
class Conversation:
    """A scripted mono call. ``voices`` maps each speaker id to a voice key."""

    name: str
    direction: Literal["inbound", "outbound"]
    agent_id: str
    started_at: str
    scenario: str
    voices: Mapping[str, str]
    lines: Sequence[Line]

    def __post_init__(self) -> None:
        for line in self.lines:
            if line.speaker not in self.voices:
                raise ValueError(f"{self.name}: no voice for speaker {line.speaker!r}")
        if self.lines and self.lines[0].cue != "turn":
            raise ValueError(f"{self.name}: the first line must be a plain turn")


def say(speaker: str, text: str) -> Line:
    return Line(speaker, text)


def bc(speaker: str, text: str) -> Line:
    """A short listener response dropped into a pause of the other speaker."""
    return Line(speaker, text, "backchannel")


def cut(speaker: str, text: str) -> Line:
    """A line that starts before the previous one has ended (overlapped speech)."""
    return Line(speaker, text, "overlap")


CONVERSATIONS: tuple[Conversation, ...] = (
    Conversation(
        name="dz_billing_dispute",
        direction="inbound",
        agent_id="agent-ana",
        started_at="2026-11-23T09:02:11+00:00",
        scenario="Customer disputes a late fee; agent removes it after verification.",
        voices={A: "piper-joe", C: "espeak-f5"},
        lines=(
            say(A, "Thank you for calling Northwind Telecom, my name is Tom. How can I help you?"),
            say(C, "Hi Tom. I'm calling about my bill. There is a late fee on it this month."),
            bc(A, "Okay."),
            say(C, "But I paid on time, like I always do."),
            say(A, "I can look into that. Can I have your account number, please?"),
            say(C, "Sure, it is four four seven, two nine one, eight eight."),
            say(
                A,
                "Thank you. And for verification, what is the zip code on the account?",
            ),
            say(C, "Nine eight one zero four."),
            say(A, "Thanks. I see your payment arrived one day after the due date."),
            cut(C, "One day? The bank sent it on Friday."),
            say(
                A,
                "I understand. Since you always pay on time, I will remove the late fee "
                "as a courtesy.",
            ),
            say(C, "Oh, that's great. Thank you so much."),
            say(A, "You're welcome. Is there anything else I can help you with today?"),
            say(C, "No, that's all. Have a nice day."),
        ),
    ),
    Conversation(
        name="dz_internet_outage",
        direction="inbound",
        agent_id="agent-ben",
        started_at="2026-11-23T10:15:40+00:00",
        scenario="Customer reports slow internet; agent finds an outage and books a follow-up.",
        voices={A: "espeak-m3", C: "espeak-f3"},
        lines=(
            say(A, "Northwind Telecom technical support, this is Mike. How can I help you today?"),
            say(
                C,
                "Hello. My internet has been very slow since last night. I can't even "
                "open my email.",
            ),
            say(A, "I'm sorry about that. Let me check your line. What is your phone number?"),
            say(C, "It's five five five, two one three, four four nine zero."),
            bc(A, "Right."),
            say(C, "And the account is under my husband's name."),
            say(
                A,
                "That's fine. I can see there is an outage in your area. Our team is "
                "working on it right now.",
            ),
            cut(C, "Do you know when it will be fixed?"),
            say(A, "The estimate is this evening, around six o'clock."),
            say(C, "Okay. Can you let me know when it's done?"),
            say(A, "Of course. I will send you a text message as soon as it is back."),
            bc(C, "Thanks."),
            say(A, "Is there anything else I can do for you?"),
            say(C, "No, that's everything. Bye."),
        ),
    ),
    Conversation(
        name="dz_upgrade_offer",
        direction="outbound",
        agent_id="agent-chloe",
        started_at="2026-11-23T11:30:05+00:00",
        scenario="Agent calls a customer about a plan upgrade; customer agrees to a trial.",
        voices={A: "espeak-f5", C: "piper-joe"},
        lines=(
            say(C, "Hello?"),
            say(
                A,
                "Hi, this is Chloe calling from Northwind Telecom. Am I speaking with "
                "Mister Garcia?",
            ),
            say(C, "Yes, speaking. What is this about?"),
            say(
                A,
                "I'm calling because you qualify for a free upgrade to our faster internet "
                "plan for three months.",
            ),
            bc(C, "Mm-hmm."),
            say(A, "After that, it's only five dollars more per month."),
            cut(C, "Wait, is there a contract? I don't want a contract."),
            say(A, "No contract at all. You can go back to your old plan at any time."),
            say(C, "Okay, in that case I will try it."),
            say(
                A,
                "Great. I will activate it today, and you will get an email with the "
                "details. Is there anything else I can help you with?",
            ),
            say(C, "No, thank you. Goodbye."),
        ),
    ),
    Conversation(
        name="dz_address_change",
        direction="inbound",
        agent_id="agent-dina",
        started_at="2026-11-23T12:48:19+00:00",
        scenario="Customer moves house and updates the billing address.",
        voices={A: "espeak-f3", C: "espeak-m3"},
        lines=(
            say(
                A,
                "Thank you for calling Northwind Telecom, my name is Dina. How may I help "
                "you today?",
            ),
            say(C, "Hi Dina. I just moved, and I need to change the address on my account."),
            say(A, "Sure, I can help with that. Can you verify your date of birth for me?"),
            say(C, "March third, nineteen eighty five."),
            say(A, "Thank you. What is the new address?"),
            say(C, "Twelve Oak Street, apartment four."),
            bc(A, "Okay."),
            say(C, "The zip code is six zero six one four."),
            say(
                A,
                "Got it. Your new address is saved, and your next bill will go there.",
            ),
            cut(C, "Will my service move too?"),
            say(
                A,
                "Your phone service moves with you, but for the internet we need to book "
                "a technician visit.",
            ),
            say(C, "Alright, I will call back for that next week."),
            say(A, "Sounds good. Is there anything else I can help you with?"),
            say(C, "No, thank you."),
        ),
    ),
    Conversation(
        name="dz_roaming_charges",
        direction="inbound",
        agent_id="agent-tom",
        started_at="2026-11-23T13:20:44+00:00",
        scenario="Customer questions roaming charges after a trip; agent adds a travel pass.",
        voices={A: "piper-joe", C: "espeak-m3"},
        lines=(
            say(A, "Northwind Telecom, this is Tom speaking. How can I help?"),
            say(
                C,
                "Yes, hi. I'm calling about my phone bill. I was in Canada last week and "
                "now my bill is over two hundred dollars.",
            ),
            say(
                A,
                "I'm sorry to hear that. Let me pull up your account. Can I get your "
                "account number?",
            ),
            say(C, "Sure. Five one two, three three eight, nine zero."),
            say(A, "Thank you. I see the roaming charges for data."),
            bc(C, "Right."),
            say(A, "You used about two gigabytes without a travel pass."),
            cut(C, "Nobody told me I needed a travel pass."),
            say(
                A,
                "I understand. I can add the travel pass for those days, which brings "
                "the charge down to thirty dollars.",
            ),
            say(C, "That's much better. Please do that."),
            say(A, "Done. Is there anything else I can help you with today?"),
            say(C, "No, that's it. Thanks."),
        ),
    ),
    Conversation(
        name="dz_password_reset",
        direction="inbound",
        agent_id="agent-chloe",
        started_at="2026-11-23T14:05:31+00:00",
        scenario="Customer is locked out of the online account; agent resets the password.",
        voices={A: "espeak-f5", C: "espeak-f3"},
        lines=(
            say(
                A,
                "Thank you for calling Northwind Telecom, this is Chloe. How can I help you today?",
            ),
            say(
                C,
                "Hi. I can't log in to my online account. It says my account is locked.",
            ),
            say(A, "I can help you with that. First I need to verify your identity."),
            say(A, "Can you tell me the last four digits of your social security number?"),
            say(C, "Yes, it's seven two one six."),
            say(A, "Thank you. I have unlocked your account."),
            say(A, "I'm sending a reset link to your email address right now."),
            cut(C, "Which email? I have two."),
            say(A, "The one ending in gmail dot com."),
            say(C, "Okay, I got it. Let me try."),
            bc(A, "Sure."),
            say(C, "Yes, it works now. I'm logged in."),
            say(A, "Wonderful. Is there anything else I can help you with?"),
            say(C, "No, that's all. Thank you for your help."),
        ),
    ),
    Conversation(
        name="dz_payment_plan",
        direction="inbound",
        agent_id="agent-dina",
        started_at="2026-11-23T15:12:08+00:00",
        scenario="Customer cannot pay the full bill; agent sets up a payment plan.",
        voices={A: "espeak-f3", C: "espeak-f5"},
        lines=(
            say(A, "Northwind Telecom billing, my name is Dina. How can I help you today?"),
            say(
                C,
                "Hi Dina. I lost my job last month, and I can't pay my whole bill right now.",
            ),
            bc(A, "I see."),
            say(C, "Is there something you can do?"),
            say(
                A,
                "I'm sorry to hear that. Yes, we can set up a payment plan. May I have "
                "your account number first?",
            ),
            say(C, "It's three three nine, four zero two, one one."),
            say(
                A,
                "Thank you. Your balance is one hundred and twenty dollars. We can split "
                "it into three payments of forty dollars.",
            ),
            cut(C, "Three payments would really help."),
            say(A, "Okay. The first payment is due on the fifteenth."),
            say(C, "And my service stays on?"),
            say(A, "Yes, your service stays on as long as the payments are made."),
            say(C, "Thank you so much."),
            say(A, "You're welcome. Is there anything else I can help you with?"),
            say(C, "No, that's all. Bye."),
        ),
    ),
    Conversation(
        name="dz_device_return",
        direction="inbound",
        agent_id="agent-mike",
        started_at="2026-11-23T16:40:52+00:00",
        scenario="Customer returns a broken modem; agent sends a replacement.",
        voices={A: "espeak-m3", C: "piper-joe"},
        lines=(
            say(A, "Thank you for calling Northwind Telecom, this is Mike. How can I help you?"),
            say(
                C,
                "Hi Mike. The modem you sent me last week is broken. The power light does "
                "not come on at all.",
            ),
            say(A, "I'm sorry about that. Did you try a different power outlet?"),
            say(C, "Yes, I tried two outlets and a different cable."),
            bc(A, "Okay."),
            say(C, "It's completely dead."),
            say(
                A,
                "Then it's a faulty unit. I can send you a new modem today, and it "
                "should arrive in two days.",
            ),
            cut(C, "What do I do with the old one?"),
            say(
                A,
                "The box will have a return label. Just put the old modem in it and drop "
                "it at any post office.",
            ),
            say(C, "Great, that's easy."),
            say(A, "Is there anything else I can help you with today?"),
            say(C, "No, that's all. Thanks, Mike."),
        ),
    ),
    Conversation(
        name="dz_new_line",
        direction="inbound",
        agent_id="agent-tom",
        started_at="2026-11-24T09:11:27+00:00",
        scenario="Customer adds a phone line for her daughter.",
        voices={A: "piper-joe", C: "espeak-f3"},
        lines=(
            say(A, "Thank you for calling Northwind Telecom sales, my name is Tom."),
            say(A, "How can I help you today?"),
            say(
                C,
                "Hi. I would like to add a new line to my plan for my daughter. She just "
                "turned thirteen.",
            ),
            say(
                A,
                "Congratulations to her. I can add that for you. Can I have your account "
                "number, please?",
            ),
            say(C, "Yes. Two zero eight, five five one, seven three."),
            say(A, "Thank you. A new line is fifteen dollars per month."),
            bc(C, "Okay."),
            say(A, "And the phone can be paid over two years."),
            cut(C, "Can I also set limits on her data?"),
            say(
                A,
                "Yes, you can set data limits and screen time in our family app, at no extra cost.",
            ),
            say(C, "Perfect, let's do it."),
            say(A, "Great. Is there anything else I can help you with?"),
            say(C, "No, that's everything. Thank you."),
        ),
    ),
    Conversation(
        name="dz_satisfaction_survey",
        direction="outbound",
        agent_id="agent-mike",
        started_at="2026-11-24T10:26:14+00:00",
        scenario="Agent calls after a technician visit for a short satisfaction survey.",
        voices={A: "espeak-m3", C: "espeak-f5"},
        lines=(
            say(C, "Hello, this is Emma."),
            say(
                A,
                "Hi Emma, this is Mike calling from Northwind Telecom. Our technician "
                "visited you on Monday.",
            ),
            say(A, "Do you have two minutes for a short survey about the visit?"),
            say(C, "Sure, I have a few minutes."),
            say(A, "Thank you. On a scale from one to five, how happy were you with the visit?"),
            say(C, "I would say four. He was friendly and fast."),
            bc(A, "Mm-hmm."),
            say(C, "But he came an hour late."),
            say(
                A,
                "I'm sorry about the delay. I will pass that on to our scheduling team.",
            ),
            cut(C, "That's fine, the internet works great now."),
            say(
                A,
                "I'm glad to hear that. Thank you for your time, Emma. Have a great day.",
            ),
            say(C, "You too. Bye."),
        ),
    ),
    Conversation(
        name="dz_moving_service",
        direction="inbound",
        agent_id="agent-chloe",
        started_at="2026-11-24T11:58:33+00:00",
        scenario="Customer wants to cancel because of a move; agent transfers the service.",
        voices={A: "espeak-f5", C: "espeak-m3"},
        lines=(
            say(A, "Thank you for calling Northwind Telecom, this is Chloe. How can I help?"),
            say(
                C,
                "Hi Chloe. I'm moving to Portland next month, so I want to cancel my service.",
            ),
            say(
                A,
                "I can help you with that. Actually, we also offer service in Portland. "
                "Would you like to move your plan instead?",
            ),
            bc(C, "Oh."),
            say(A, "You would keep the same price."),
            say(C, "Really? I didn't know that. Yes, that would be easier."),
            say(A, "Great. Can you verify the name and the date of birth on the account?"),
            say(C, "Jason Lee, July ninth, nineteen ninety."),
            say(A, "Thank you, Jason. What is the date of your move?"),
            cut(C, "The first of next month."),
            say(A, "Okay. The service will start at the new address on that day."),
            say(C, "Perfect. Thanks for your help."),
            say(A, "You're welcome. Is there anything else I can help you with?"),
            say(C, "No, that's it."),
        ),
    ),
    Conversation(
        name="dz_refund_status",
        direction="inbound",
        agent_id="agent-dina",
        started_at="2026-11-24T13:44:02+00:00",
        scenario="Customer asks about a refund that has not arrived; agent confirms the date.",
        voices={A: "espeak-f3", C: "piper-joe"},
        lines=(
            say(A, "Thank you for calling Northwind Telecom. My name is Dina. How can I help?"),
            say(
                C,
                "Hello. I'm calling about a refund. I returned a phone three weeks ago, "
                "and I still don't have my money.",
            ),
            say(A, "I'm sorry for the wait. Can I have your account number, please?"),
            say(C, "Yes, nine nine one, two zero four, three six."),
            say(A, "Thank you. I can see the phone arrived at our warehouse last Tuesday."),
            bc(C, "Okay."),
            say(A, "The refund was approved yesterday."),
            cut(C, "So when will I see it?"),
            say(
                A,
                "It usually takes five business days to show up on your card.",
            ),
            say(C, "Alright, I will wait until next week then."),
            say(A, "Is there anything else I can help you with today?"),
            say(C, "No, thank you. Goodbye."),
        ),
    ),
    Conversation(
        name="dz_voicemail",
        direction="outbound",
        agent_id="agent-mike",
        started_at="2026-11-24T14:30:00+00:00",
        scenario="Agent leaves a voicemail about an upcoming technician appointment.",
        voices={A: "espeak-m3"},
        lines=(
            say(
                A,
                "Hi, this is Mike calling from Northwind Telecom, for Sarah Johnson.",
            ),
            say(
                A,
                "I'm calling about your technician appointment tomorrow morning between "
                "eight and ten.",
            ),
            say(
                A,
                "The technician will install your new fiber modem, and it should take "
                "about one hour.",
            ),
            say(
                A,
                "Please make sure someone over eighteen is at home during the visit.",
            ),
            say(
                A,
                "If you need to change the time, please call us back at one eight hundred, "
                "five five five, zero one nine nine.",
            ),
            say(A, "Our office is open from eight in the morning to eight in the evening."),
            say(A, "Thank you, and have a great day."),
        ),
    ),
    Conversation(
        name="dz_supervisor_transfer",
        direction="inbound",
        agent_id="agent-chloe",
        started_at="2026-11-24T15:52:47+00:00",
        scenario="Upset customer asks for a supervisor; the supervisor joins and offers credit.",
        voices={A: "espeak-f5", C: "espeak-m3", S: "piper-joe"},
        lines=(
            say(A, "Thank you for calling Northwind Telecom, this is Chloe. How can I help?"),
            say(
                C,
                "I'm calling about my internet again. It has been down three times this week.",
            ),
            say(C, "I want to speak to a supervisor."),
            say(A, "I understand. Please hold for a moment while I transfer you."),
            say(
                S,
                "Hello, this is Robert, the customer care supervisor. I'm sorry about the "
                "trouble with your service.",
            ),
            say(C, "Thank you. I work from home, and I keep losing my connection."),
            bc(S, "I see."),
            say(C, "This can't go on."),
            say(
                S,
                "I understand. I have asked for a technician to check your line tomorrow, "
                "and I'm adding a credit of fifty dollars to your account.",
            ),
            cut(C, "Fifty dollars? Okay, that helps."),
            say(S, "Is there anything else I can help you with today?"),
            say(C, "No, that's all. Thank you, Robert."),
        ),
    ),
)
